"""Where each model lives inside `$NARCIS_MODELS_DIR` (DESIGN.md's layout)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SDXL_COMPONENTS: dict[str, tuple[str, str]] = {
    # folder: (library, class) as written in model_index.json
    "unet": ("diffusers", "UNet2DConditionModel"),
    "vae": ("diffusers", "AutoencoderKL"),
    "text_encoder": ("transformers", "CLIPTextModel"),
    "text_encoder_2": ("transformers", "CLIPTextModelWithProjection"),
    "tokenizer": ("transformers", "CLIPTokenizer"),
    "tokenizer_2": ("transformers", "CLIPTokenizer"),
    "scheduler": ("diffusers", "EulerDiscreteScheduler"),
}
WEIGHTED = ("unet", "vae", "text_encoder", "text_encoder_2")
PHOTOMAKER_NAMES = (
    "photomaker-v2.bin",
    "photomaker-v2.safetensors",
    "photomaker-v1.bin",
    "photomaker-v1.safetensors",
)
# insightface's buffalo_l pack: detection, two landmark models, gender/age, ArcFace.
BUFFALO_FILES = (
    "1k3d68.onnx",
    "2d106det.onnx",
    "det_10g.onnx",
    "genderage.onnx",
    "w600k_r50.onnx",
)


@dataclass(frozen=True)
class ModelLayout:
    root: Path

    @property
    def sdxl(self) -> Path:
        return self.root / "sdxl"

    @property
    def photomaker_dir(self) -> Path:
        return self.root / "photomaker"

    @property
    def fast_lora(self) -> Path | None:
        """A few-step LoRA for the fast tier (e.g. Hyper-SD 8-step), if one is installed."""
        found = sorted((self.root / "fast").glob("*.safetensors"))
        return found[0] if found else None

    @property
    def clip(self) -> Path:
        """An optional CLIP model (transformers layout) for prompt-adherence scores."""
        return self.root / "clip"

    @property
    def taesdxl(self) -> Path:
        """An optional tiny VAE for SDXL latents (diffusers layout), for live previews."""
        return self.root / "taesdxl"

    @property
    def faces(self) -> Path:
        return self.root / "faces"

    @property
    def buffalo(self) -> Path:
        """insightface reads `<root>/models/<pack>`; its root is our faces folder."""
        return self.faces / "models" / "buffalo_l"

    @property
    def photomaker(self) -> Path:
        """The adapter file present, preferring V2; the V2 `.bin` path when there is none."""
        for name in PHOTOMAKER_NAMES:
            if (self.photomaker_dir / name).is_file():
                return self.photomaker_dir / name
        return self.photomaker_dir / PHOTOMAKER_NAMES[0]

    def weights_file(self, component: str) -> Path | None:
        """The component's weights (fp16 variant or plain; safetensors preferred). For a
        sharded checkpoint this is its index file, `*.safetensors.index.json`."""
        folder = self.sdxl / component
        stem = (
            "diffusion_pytorch_model" if SDXL_COMPONENTS[component][0] == "diffusers" else "model"
        )
        for name in (
            f"{stem}.fp16.safetensors",
            f"{stem}.safetensors",
            f"{stem}.fp16.bin",
            f"{stem}.bin",
        ):
            for candidate in (folder / name, folder / f"{name}.index.json"):
                if candidate.is_file():
                    return candidate
        return None

    def variant(self, component: str) -> str | None:
        found = self.weights_file(component)
        return "fp16" if found is not None and ".fp16." in found.name else None
