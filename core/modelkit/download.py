"""`narcis models download`: the real weights, into the layout the loaders expect.

Resumable: the model hub client keeps partial files and skips finished ones; the insightface
archive is fetched with HTTP range requests. Never called by tests (no network there).
"""

from __future__ import annotations

import shutil
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.modelkit.layout import ModelLayout

SDXL_REPO = "stabilityai/stable-diffusion-xl-base-1.0"
SDXL_FILES = [
    "model_index.json",
    "scheduler/*.json",
    "tokenizer/*",
    "tokenizer_2/*",
    "text_encoder/config.json",
    "text_encoder/model.fp16.safetensors",
    "text_encoder_2/config.json",
    "text_encoder_2/model.fp16.safetensors",
    "unet/config.json",
    "unet/diffusion_pytorch_model.fp16.safetensors",
]
VAE_REPO = "madebyollin/sdxl-vae-fp16-fix"  # SDXL's VAE, retuned not to overflow in fp16
VAE_FILES = ["config.json", "diffusion_pytorch_model.safetensors"]
PHOTOMAKER_REPO = "TencentARC/PhotoMaker-V2"
PHOTOMAKER_FILE = "photomaker-v2.bin"
# Where insightface itself fetches its model packs from.
BUFFALO_URL = "https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip"

Report = Callable[[str], None]


@dataclass(frozen=True)
class Download:
    what: str
    run: Callable[[ModelLayout], None]


def plan() -> list[Download]:
    return [
        Download("SDXL base 1.0 (fp16 weights)", _sdxl),
        Download("fp16-safe SDXL VAE", _vae),
        Download("PhotoMaker V2", _photomaker),
        Download("insightface buffalo_l", _buffalo),
    ]


def download_all(layout: ModelLayout, report: Report = print) -> None:
    for step in plan():
        report(f"downloading {step.what} …")
        step.run(layout)
    report(f"done: models in {layout.root}")


def _sdxl(layout: ModelLayout) -> None:
    from huggingface_hub import snapshot_download

    snapshot_download(SDXL_REPO, local_dir=layout.sdxl, allow_patterns=SDXL_FILES)


def _vae(layout: ModelLayout) -> None:
    from huggingface_hub import snapshot_download

    snapshot_download(VAE_REPO, local_dir=layout.sdxl / "vae", allow_patterns=VAE_FILES)


def _photomaker(layout: ModelLayout) -> None:
    from huggingface_hub import hf_hub_download

    hf_hub_download(PHOTOMAKER_REPO, PHOTOMAKER_FILE, local_dir=layout.photomaker_dir)


def _buffalo(layout: ModelLayout) -> None:
    target = layout.faces / "models" / "buffalo_l"
    if target.is_dir() and any(target.glob("*.onnx")):
        return
    archive = layout.faces / "buffalo_l.zip"
    fetch_resumable(BUFFALO_URL, archive)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(target)
    for nested in target.glob("buffalo_l/*"):  # some packs nest a folder of the same name
        shutil.move(str(nested), target / nested.name)
    archive.unlink()


def fetch_resumable(url: str, target: Path, chunk: int = 1 << 20) -> None:
    """Download `url` to `target`, continuing a previous partial download if there is one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        mode = "ab" if have and response.status == 206 else "wb"
        with partial.open(mode) as handle:
            while block := response.read(chunk):
                handle.write(block)
    partial.replace(target)
