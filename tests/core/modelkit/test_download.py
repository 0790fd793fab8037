"""`narcis models download` against a local server that behaves like the hub and GitHub."""

from __future__ import annotations

import hashlib
import io
import zipfile

import httpx
import pytest

from core.errors import ModelError
from core.modelkit.download import OPTIONAL, SOURCES, download_all, fetch, fetch_buffalo
from core.modelkit.layout import BUFFALO_FILES, ModelLayout
from tests.core.modelkit.fake_hub import FakeHub, running_hub

DATA = bytes(range(256)) * 400  # 100 KiB


@pytest.fixture
def hub():
    with running_hub(FakeHub()) as served:
        served.add("org/model", "abc123", "weights.bin", DATA)
        yield served


@pytest.fixture
def client():
    with httpx.Client(follow_redirects=True, timeout=10) as http:
        yield http


def _url(hub: FakeHub, revision: str = "abc123") -> str:
    return f"{hub.url}/org/model/resolve/{revision}/weights.bin"


def test_an_early_close_is_resumed_with_a_range_and_verified(hub, client, tmp_path) -> None:
    hub.early_closes = 2
    target = tmp_path / "weights.bin"
    fetch(client, _url(hub), target)
    assert target.read_bytes() == DATA and not (tmp_path / "weights.bin.part").exists()
    ranges = [r for r in hub.requests if r.startswith("/cdn/")]
    assert len(ranges) == 3 and "bytes=" not in ranges[0] and ranges[1].endswith("-")


def test_a_connection_that_always_breaks_off_is_refused_never_saved(hub, client, tmp_path):
    hub.early_closes = 100
    target = tmp_path / "weights.bin"
    with pytest.raises(ModelError, match="kept breaking off"):
        fetch(client, _url(hub), target, tries=3)
    assert not target.exists()  # the half is kept as .part, to resume, never as the file
    assert 0 < (tmp_path / "weights.bin.part").stat().st_size < len(DATA)


def test_a_complete_part_answered_416_is_finished_not_refetched_forever(hub, client, tmp_path):
    (tmp_path / "weights.bin.part").write_bytes(DATA)
    fetch(client, _url(hub), tmp_path / "weights.bin")
    assert (tmp_path / "weights.bin").read_bytes() == DATA
    assert any("416" in r or r.endswith(f"bytes={len(DATA)}-") for r in hub.requests)


def test_a_part_longer_than_the_file_is_dropped_and_fetched_again(hub, client, tmp_path):
    (tmp_path / "weights.bin.part").write_bytes(DATA + b"stale tail")
    fetch(client, _url(hub), tmp_path / "weights.bin")
    assert (tmp_path / "weights.bin").read_bytes() == DATA


def test_bytes_that_do_not_match_the_published_hash_are_refused(hub, client, tmp_path):
    hub.corrupt.add(hashlib.sha256(DATA).hexdigest())
    with pytest.raises(ModelError, match="SHA-256"):
        fetch(client, _url(hub), tmp_path / "weights.bin")
    assert not (tmp_path / "weights.bin").exists()
    assert not (tmp_path / "weights.bin.part").exists()  # a damaged part is not resumed


def test_an_unpinned_revision_is_not_there(hub, client, tmp_path) -> None:
    with pytest.raises(ModelError, match="HTTP 404"):
        fetch(client, _url(hub, "main"), tmp_path / "weights.bin")


def _buffalo_zip(names=BUFFALO_FILES, nested: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(f"buffalo_l/{name}" if nested else name, b"onnx " + name.encode())
    return buffer.getvalue()


def test_buffalo_is_moved_into_place_only_when_complete(hub, client, tmp_path) -> None:
    layout = ModelLayout(tmp_path)
    hub.assets["half.zip"] = _buffalo_zip(BUFFALO_FILES[:2])
    with pytest.raises(ModelError, match="lacks"):
        fetch_buffalo(client, f"{hub.url}/release/half.zip", layout)
    assert not layout.buffalo.exists()  # never a half-extracted pack that looks installed
    hub.assets["buffalo_l.zip"] = _buffalo_zip()
    fetch_buffalo(client, f"{hub.url}/release/buffalo_l.zip", layout)
    assert sorted(p.name for p in layout.buffalo.iterdir()) == sorted(BUFFALO_FILES)


def test_download_all_fetches_every_file_from_its_pinned_revision(tmp_path) -> None:
    with running_hub(FakeHub()) as hub:
        for source in SOURCES:
            for remote, _local in source.files:
                hub.add(source.repo, source.revision, remote, f"{source.repo}/{remote}".encode())
        hub.assets["buffalo_l.zip"] = _buffalo_zip()
        hub.early_closes = 3
        said: list[str] = []
        layout = ModelLayout(tmp_path / "models")
        download_all(layout, hub.url, f"{hub.url}/release/buffalo_l.zip", report=said.append)
    unet = layout.sdxl / "unet" / "diffusion_pytorch_model.fp16.safetensors"
    assert unet.read_bytes() == b"stabilityai/stable-diffusion-xl-base-1.0/unet/" + (
        b"diffusion_pytorch_model.fp16.safetensors"
    )
    assert (layout.sdxl / "vae" / "diffusion_pytorch_model.safetensors").is_file()
    assert (layout.photomaker_dir / "photomaker-v2.bin").is_file()
    assert layout.weights_file("text_encoder_2").name == "model.fp16.safetensors"
    assert all((layout.buffalo / name).is_file() for name in BUFFALO_FILES)
    assert not list(tmp_path.rglob("*.part")) and said[-1].startswith("done")
    assert all(len(source.revision) == 40 for source in SOURCES)  # commits, not branches


def test_the_optional_models_come_only_when_asked_for(tmp_path) -> None:
    with running_hub(FakeHub()) as hub:
        for source in (*SOURCES, *OPTIONAL.values()):
            for remote, _local in source.files:
                hub.add(source.repo, source.revision, remote, f"{source.repo}/{remote}".encode())
        hub.assets["buffalo_l.zip"] = _buffalo_zip()
        plain, extra = ModelLayout(tmp_path / "plain"), ModelLayout(tmp_path / "extra")
        download_all(plain, hub.url, f"{hub.url}/release/buffalo_l.zip", report=print)
        download_all(extra, hub.url, f"{hub.url}/release/buffalo_l.zip", ("taesdxl",), print)
    assert not plain.taesdxl.exists() and not plain.clip.exists()
    weights = extra.taesdxl / "diffusion_pytorch_model.safetensors"
    assert weights.read_bytes() == b"madebyollin/taesdxl/diffusion_pytorch_model.safetensors"
    assert (extra.taesdxl / "config.json").is_file() and not extra.clip.exists()
    assert all(len(source.revision) == 40 for source in OPTIONAL.values())
