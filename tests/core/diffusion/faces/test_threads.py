"""One face analyser, many threads: what `make_analyzer` returns may be called from any number
of threads at once and returns what it returns alone (dlib: a pool of copies; insightface:
onnxruntime sessions, safe as they are). On a bare dlib analyser this crashed the heap."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tests.threads import in_child, overlapped


def same_faces(found: list, alone: list) -> bool:
    return len(found) == len(alone) and all(
        f.box == a.box
        and np.array_equal(f.landmarks, a.landmarks)
        and np.array_equal(f.embedding, a.embedding)
        for f, a in zip(found, alone, strict=True)
    )


def photos():
    """Three sizes, two people: the astronaut small and large, Grace Hopper."""
    from PIL import Image
    from skimage import data

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from faces_offline import hopper

    astronaut = Image.fromarray(data.astronaut())
    return [astronaut, astronaut.resize((900, 900)), hopper()]


def hammer(faces_dir: str, rounds: str) -> None:
    """In the child: one analyser from `make_analyzer`, eight threads, three photos."""
    from core.diffusion.faces.backends import make_analyzer

    analyzer = make_analyzer(Path(faces_dir))
    calls = [lambda p=p: analyzer.detect(p) for p in photos()]
    made = overlapped(calls, same_faces, rounds=int(rounds))
    print(type(analyzer).__name__, made, getattr(analyzer, "copies", 1))


@pytest.mark.timeout(240)
def test_the_dlib_analyser_is_safe_to_share(tmp_path: Path) -> None:
    output = in_child("tests.core.diffusion.faces.test_threads:hammer", str(tmp_path), "16")
    name, made, copies = output.split()
    assert (name, made) == ("PooledAnalyzer", "48")
    assert 1 <= int(copies) <= 4  # one per core at most, however many threads


@pytest.mark.timeout(240)
def test_the_insightface_analyser_is_safe_to_share(tmp_path: Path) -> None:
    from core.modelkit.tiny_faces import build_tiny_buffalo

    build_tiny_buffalo(tmp_path / "models" / "buffalo_l")
    output = in_child("tests.core.diffusion.faces.test_threads:hammer", str(tmp_path), "5")
    assert output.split()[:2] == ["InsightFaceAnalyzer", "15"]
