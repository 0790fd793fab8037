"""The folder `narcis models download` writes, with tiny weights and stand-in insightface models:
checked, loaded and run through the same code as the real one, worker included."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from core.diffusion.faces.backends import InsightFaceAnalyzer
from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.portrait import PortraitPipeline
from core.modelkit.check import check_models
from core.modelkit.layout import BUFFALO_FILES, ModelLayout
from core.modelkit.tiny import build_tiny
from tests.helpers import run_narcis

PARAMS = PortraitParams(
    composition=CompositionParams(prompt="byzantine emperor", width=64, height=64, steps=2),
    identity=IdentityParams(steps=3, crop_size=64),
    face_retries=0,
)


@pytest.fixture(scope="module")
def release_models(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("release")
    build_tiny(root, seed=0, like_release=True)
    return root


def test_the_folder_has_the_downloaded_names_and_checks_clean(release_models: Path) -> None:
    layout = ModelLayout(release_models)
    assert layout.weights_file("unet").name == "diffusion_pytorch_model.fp16.safetensors"
    assert layout.weights_file("text_encoder_2").name == "model.fp16.safetensors"
    assert layout.weights_file("vae").name == "diffusion_pytorch_model.safetensors"
    assert not (layout.sdxl / "tokenizer" / "tokenizer.json").exists()
    assert sorted(p.name for p in layout.buffalo.iterdir()) == sorted(BUFFALO_FILES)
    assert check_models(layout) == []


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_models_check_fails_on_a_broken_buffalo_file(
    release_models: Path, tmp_path: Path, damage: str
) -> None:
    broken = tmp_path / "models"
    shutil.copytree(release_models, broken)
    target = ModelLayout(broken).buffalo / "det_10g.onnx"
    if damage == "missing":
        target.unlink()
    else:
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    result = run_narcis("models", "check", "--dir", str(broken), data=tmp_path / "var")
    assert result.returncode == 1
    assert "det_10g.onnx" in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_a_v2_portrait_gets_its_512_d_embedding_from_insightface(
    release_models: Path, astronaut, monkeypatch
) -> None:
    pipeline = PortraitPipeline.load(
        ModelLayout(release_models), torch.device("cpu"), torch.float32
    )
    assert isinstance(pipeline.analyzer, InsightFaceAnalyzer)
    seen: list[tuple[int, ...]] = []
    original = pipeline.identity.encoder.identity_tokens

    def spy(pixels, id_embeds=None):
        seen.append(tuple(id_embeds.shape))
        return original(pixels, id_embeds)

    monkeypatch.setattr(pipeline.identity.encoder, "identity_tokens", spy)
    references = pipeline.references([("astronaut.png", astronaut)])
    assert references[0].embedding.shape == (512,)
    result = pipeline.refine(astronaut, None, PARAMS, references)
    assert seen == [(1, 512)] and result.final.size == astronaut.size


def test_a_worker_job_runs_through_the_insightface_backend(
    release_models: Path, tmp_path: Path, redis_db_url, astronaut
) -> None:
    from core.store.migrate import upgrade
    from tests.core.jobs.test_worker import finish, submit
    from tests.stack import Stack

    database = f"sqlite+aiosqlite:///{tmp_path / 'narcis.db'}"
    upgrade(database)
    stack = Stack(tmp_path, database, redis_db_url, release_models)
    try:
        job_id = stack.run(submit(stack, astronaut, params=PARAMS))
        stack.start_worker()
        events, status = stack.run(finish(stack, job_id))
    finally:
        stack.stop_workers()
    assert status.status == "done", stack.logs()
    assert events[-1].type == "done"
