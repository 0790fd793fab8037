"""The likeness score on real photos: a restyled photo of a person scores far higher against
that person's reference than against someone else's; CLIP adherence on a tiny random CLIP."""

import numpy as np
import pytest
import torch

from core.diffusion.likeness import (
    ClipScorer,
    LikenessMeter,
    analyzer_label,
    face_likeness,
    reference_embedding,
)
from core.diffusion.params import CompositionParams, PortraitParams
from core.diffusion.references import prepare_reference
from tests.core.diffusion.faces_offline import hopper, restyle
from tests.core.diffusion.tiny_clip import build_tiny_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = build_tiny_clip(tmp_path_factory.mktemp("models") / "clip")
    return ClipScorer.find(folder, torch.device("cpu"))


def reference(image, analyzer, name="reference"):
    return prepare_reference(name, image, analyzer, 28)


def test_a_restyled_photo_scores_far_higher_against_its_own_face(astronaut, analyzer, clip) -> None:
    portrait = restyle(astronaut)
    meter = LikenessMeter(analyzer, clip)
    params = PortraitParams(composition=CompositionParams(prompt="an astronaut, duotone poster"))
    own = meter.measure(portrait, params, [reference(astronaut, analyzer)])
    other = meter.measure(portrait, params, [reference(hopper(), analyzer)])
    print(f"\nown face: {own.label}, other face: {other.label} ({own.analyzer})")
    print(f"prompt adherence (tiny random CLIP): {own.prompt_score}")
    assert own.analyzer == "dlib-128"
    # dlib's cosines sit high; the same person above 0.95, strangers near 0.9 (DESIGN: likeness).
    assert own.score > 0.95 and other.score < 0.92
    assert own.score - other.score > 0.07
    assert own.prompt_score is not None and -1 <= own.prompt_score <= 1
    assert own.prompt_model == "clip"


def test_no_face_in_the_portrait_gives_no_score_and_says_why(astronaut, camera, analyzer) -> None:
    result = face_likeness(camera, [reference(astronaut, analyzer)], analyzer)
    assert result.score is None
    assert result.label == "likeness — (no face found in the portrait)"


def test_label_reads_like_the_job_page(astronaut, analyzer) -> None:
    result = face_likeness(astronaut, [reference(astronaut, analyzer)], analyzer)
    assert result.label.startswith("likeness 0.") or result.label == "likeness 1.00"
    assert analyzer_label(analyzer) == "dlib-128"


def test_the_reference_embedding_is_the_mean_of_unit_vectors(astronaut, analyzer) -> None:
    one = reference(astronaut, analyzer, "one")
    two = reference(hopper(), analyzer, "two")
    mean = reference_embedding([one, two])
    unit = [r.embedding.numpy() / np.linalg.norm(r.embedding.numpy()) for r in (one, two)]
    assert np.allclose(mean, (unit[0] + unit[1]) / 2, atol=1e-6)


def test_clip_scores_depend_on_the_prompt(astronaut, clip) -> None:
    first, again = clip.score(astronaut, "an astronaut"), clip.score(astronaut, "an astronaut")
    assert first == again
    assert first != clip.score(astronaut, "a bowl of fruit on a table")


def test_no_clip_folder_means_no_prompt_score(tmp_path) -> None:
    assert ClipScorer.find(tmp_path / "clip", torch.device("cpu")) is None
