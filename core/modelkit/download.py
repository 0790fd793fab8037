"""`narcis models download`: the real weights (≈ 9.2 GB), into the layout the loaders expect.

Every file comes from a pinned revision, so what was tested is what is fetched. Each download
is resumable (HTTP Range into `<file>.part`), retried when the connection ends early, and
renamed into place only once its size — and, where the hub publishes it, its SHA-256 — match:
a half-written file is never taken for a whole one. The insightface pack is unpacked into a
scratch folder and moved into place only when all five models are there.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.errors import ModelError
from core.modelkit.layout import BUFFALO_FILES, ModelLayout

TOKENIZER_FILES = ("merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json")
TRIES = 5
_SHA256 = re.compile(r'^"?([0-9a-f]{64})"?$')

Report = Callable[[str], None]


@dataclass(frozen=True)
class HubFiles:
    what: str
    repo: str
    revision: str  # a commit, not a branch: the files cannot change under us
    files: tuple[tuple[str, str], ...]  # (path in the repository, path in the models folder)


def _sdxl_files() -> tuple[tuple[str, str], ...]:
    names = [
        "model_index.json",
        "scheduler/scheduler_config.json",
        *(f"{tok}/{name}" for tok in ("tokenizer", "tokenizer_2") for name in TOKENIZER_FILES),
        "text_encoder/config.json",
        "text_encoder/model.fp16.safetensors",
        "text_encoder_2/config.json",
        "text_encoder_2/model.fp16.safetensors",
        "unet/config.json",
        "unet/diffusion_pytorch_model.fp16.safetensors",
    ]
    return tuple((name, f"sdxl/{name}") for name in names)


SOURCES = (
    HubFiles(
        "SDXL base 1.0 (fp16 weights, ≈ 6.8 GB)",
        "stabilityai/stable-diffusion-xl-base-1.0",
        "462165984030d82259a11f4367a4eed129e94a7b",
        _sdxl_files(),
    ),
    HubFiles(
        "fp16-safe SDXL VAE (≈ 0.3 GB)",  # SDXL's VAE, retuned not to overflow in fp16
        "madebyollin/sdxl-vae-fp16-fix",
        "207b116dae70ace3637169f1ddd2434b91b3a8cd",
        (
            ("config.json", "sdxl/vae/config.json"),
            ("diffusion_pytorch_model.safetensors", "sdxl/vae/diffusion_pytorch_model.safetensors"),
        ),
    ),
    HubFiles(
        "PhotoMaker V2 (≈ 1.8 GB)",
        "TencentARC/PhotoMaker-V2",
        "f5a1e5155dc02166253fa7e29d13519f5ba22eac",
        (("photomaker-v2.bin", "photomaker/photomaker-v2.bin"),),
    ),
)


# What the system uses when present and does without otherwise (`download --with NAME`).
OPTIONAL = {
    "taesdxl": HubFiles(
        "TAESD for SDXL, sharper live previews (≈ 10 MB)",
        "madebyollin/taesdxl",
        "b20258aaef75ef61e659c1e0f14f251cf0ad153e",
        tuple(
            (name, f"taesdxl/{name}")
            for name in ("config.json", "diffusion_pytorch_model.safetensors")
        ),
    ),
    "clip": HubFiles(
        "CLIP ViT-L/14, prompt-adherence scores (≈ 1.7 GB)",
        "openai/clip-vit-large-patch14",
        "32bd64288804d66eefd0ccbe215aa642df71cc41",
        tuple(
            (name, f"clip/{name}")
            for name in (
                "config.json",
                "model.safetensors",
                "preprocessor_config.json",
                "tokenizer.json",
                *TOKENIZER_FILES,
            )
        ),
    ),
}


def download_all(
    layout: ModelLayout,
    hub_url: str,
    buffalo_url: str,
    extras: tuple[str, ...] = (),
    report: Report = print,
) -> None:
    """Everything, from the hub at `hub_url` and insightface's release at `buffalo_url`
    (settings NARCIS_HUB_URL and NARCIS_BUFFALO_URL), and the optional models in `extras`."""
    with httpx.Client(follow_redirects=True, timeout=httpx.Timeout(60, connect=20)) as client:
        for source in (*SOURCES, *(OPTIONAL[name] for name in extras)):
            report(f"downloading {source.what} …")
            for remote, local in source.files:
                url = f"{hub_url.rstrip('/')}/{source.repo}/resolve/{source.revision}/{remote}"
                fetch(client, url, layout.root / local)
        report("downloading insightface buffalo_l (≈ 0.3 GB) …")
        fetch_buffalo(client, buffalo_url, layout)
    report(f"done: models in {layout.root}")


def fetch_buffalo(client: httpx.Client, url: str, layout: ModelLayout) -> None:
    target = layout.buffalo
    if all((target / name).is_file() for name in BUFFALO_FILES):
        return
    archive = layout.faces / "buffalo_l.zip"
    fetch(client, url, archive)
    scratch = target.with_name(target.name + ".partial")
    try:
        _unpack(archive, scratch, url)
        shutil.rmtree(target, ignore_errors=True)
        scratch.replace(target)
    finally:  # a bad archive is fetched afresh next time, never reused
        archive.unlink(missing_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)


def _unpack(archive: Path, scratch: Path, url: str) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as zipped:
            broken = zipped.testzip()
            if broken is not None:
                raise ModelError(f"{url}: {broken} is damaged in the archive")
            zipped.extractall(scratch)
    except zipfile.BadZipFile as exc:
        raise ModelError(f"{url} is not a zip archive ({exc}): run download again") from None
    nested = scratch / "buffalo_l"  # some packs nest a folder of the same name
    if nested.is_dir():
        for item in nested.iterdir():
            shutil.move(str(item), scratch / item.name)
        nested.rmdir()
    missing = [name for name in BUFFALO_FILES if not (scratch / name).is_file()]
    if missing:
        raise ModelError(f"{url} lacks {', '.join(missing)}")


def fetch(client: httpx.Client, url: str, target: Path, tries: int = TRIES) -> None:
    """Download `url` to `target`, resuming `<target>.part`; retry an early end; rename into
    place only when size and published hash agree. A finished `target` is kept."""
    if target.is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    for attempt in range(1, tries + 1):
        try:
            expected = _fetch_once(client, url, partial)
        except (httpx.TransportError, _Incomplete) as exc:
            if attempt == tries:
                raise ModelError(
                    f"{url}: the download kept breaking off ({exc}); run it again to resume"
                ) from None
            time.sleep(min(2**attempt * 0.1, 5))
            continue
        _verify(url, partial, expected)
        partial.replace(target)
        return


class _Incomplete(Exception):
    pass


@dataclass(frozen=True)
class _Expected:
    size: int
    sha256: str | None


def _fetch_once(client: httpx.Client, url: str, partial: Path) -> _Expected:
    have = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with client.stream("GET", url, headers=headers) as response:
        published = _published(response)
        if response.status_code == 416:  # nothing left to send: is the part already whole?
            total = _total_from_range(response.headers.get("content-range", ""))
            if total is None or total != have:
                partial.unlink(missing_ok=True)
                raise _Incomplete(f"the server refused the range {have}- (size {total})")
            return _Expected(total, published.sha256)
        if response.status_code >= 400:
            raise ModelError(f"{url}: HTTP {response.status_code}")
        resumed = response.status_code == 206
        if resumed:
            total = _total_from_range(response.headers.get("content-range", ""))
        else:
            length = response.headers.get("content-length")
            total = int(length) if length is not None else None
        total = published.size or total
        with partial.open("ab" if resumed else "wb") as handle:
            for block in response.iter_bytes():  # as it arrives: a break keeps what came
                handle.write(block)
    size = partial.stat().st_size
    if total is None or size < total:
        raise _Incomplete(f"got {size} of {total if total is not None else '?'} bytes")
    return _Expected(total, published.sha256)


def _published(response: httpx.Response) -> _Expected:
    """Size and SHA-256 the hub states for the file (on its redirect, for large files)."""
    size, sha = 0, None
    for step in (*response.history, response):
        linked = step.headers.get("x-linked-size")
        size = int(linked) if linked else size
        for name in ("x-linked-etag", "etag"):
            found = _SHA256.match(step.headers.get(name, "").removeprefix("W/"))
            if found and sha is None:
                sha = found.group(1)
    return _Expected(size, sha)


def _total_from_range(content_range: str) -> int | None:
    found = re.search(r"/(\d+)$", content_range)
    return int(found.group(1)) if found else None


def _verify(url: str, partial: Path, expected: _Expected) -> None:
    size = partial.stat().st_size
    problem = None
    if size != expected.size:
        problem = f"{size} bytes instead of {expected.size}"
    elif expected.sha256 is not None and _sha256(partial) != expected.sha256:
        problem = "its SHA-256 is not the one the server publishes"
    if problem:
        partial.unlink()
        raise ModelError(f"{url}: the download is damaged ({problem}); run download again")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
