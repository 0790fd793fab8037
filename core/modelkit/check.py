"""`narcis models check`: is a models folder complete and shaped as its configs say?

Every problem comes back as one plain sentence naming the file; an empty list means all good.
Shapes are compared without loading weights: models are built on the meta device from their
configs and set against the tensor headers of the weight files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors import safe_open
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

from core.errors import ModelError
from core.modelkit.layout import BUFFALO_FILES, SDXL_COMPONENTS, WEIGHTED, ModelLayout

_MODEL_CLASSES = {
    "unet": UNet2DConditionModel,
    "vae": AutoencoderKL,
    "text_encoder": CLIPTextModel,
    "text_encoder_2": CLIPTextModelWithProjection,
}
_CONFIG_FILES = {
    "tokenizer": "tokenizer_config.json",
    "tokenizer_2": "tokenizer_config.json",
    "scheduler": "scheduler_config.json",
}
MAX_LISTED = 5


def check_models(layout: ModelLayout) -> list[str]:
    """All problems of the SDXL folder, the PhotoMaker file, the face models and the optional
    models that are present."""
    return (
        check_sdxl(layout) + check_photomaker(layout) + check_faces(layout) + check_optional(layout)
    )


def check_sdxl(layout: ModelLayout, shapes: bool = True) -> list[str]:
    if not layout.sdxl.is_dir():
        return [f"{layout.sdxl} is missing (run `narcis models tiny` or `narcis models download`)"]
    problems = _check_json(layout.sdxl / "model_index.json", layout.root)
    configs: dict[str, dict] = {}
    for name in SDXL_COMPONENTS:
        config_path = layout.sdxl / name / _CONFIG_FILES.get(name, "config.json")
        found = _check_json(config_path, layout.root)
        problems += found
        if name in WEIGHTED and not found:
            configs[name] = json.loads(config_path.read_text())
            problems += _check_weights(layout, name, configs[name], shapes)
    if shapes and len(configs) == len(WEIGHTED):
        problems += _check_widths(configs)
    return problems


def _check_json(path: Path, root: Path) -> list[str]:
    shown = path.relative_to(root)
    if not path.is_file():
        return [f"{shown} is missing"]
    try:
        json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        return [f"{shown} is not valid JSON ({exc.msg} at line {exc.lineno})"]
    except UnicodeDecodeError:
        return [f"{shown} is not a text file"]
    return []


def _check_weights(layout: ModelLayout, name: str, config: dict, shapes: bool) -> list[str]:
    weights = layout.weights_file(name)
    if weights is None:
        return [f"sdxl/{name} has no weights file (expected a *.safetensors or *.bin)"]
    if not shapes:
        return []
    shown = weights.relative_to(layout.root)
    try:
        expected = _expected_shapes(name, config)
    except Exception as exc:  # a config that builds no model is a malformed config
        return [f"sdxl/{name}/config.json does not describe a valid {name}: {exc}"]
    try:
        actual = read_shapes(weights)
    except Exception as exc:
        return [f"{shown} cannot be read ({exc})"]
    return describe_mismatch(str(shown), expected, actual)


def _expected_shapes(name: str, config: dict) -> dict[str, tuple[int, ...]]:
    cls = _MODEL_CLASSES[name]
    with torch.device("meta"):
        if name.startswith("text_encoder"):
            model = cls(CLIPTextConfig(**config))
        else:
            model = cls.from_config(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def read_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name → shape from a weights file (or a sharded checkpoint's index), reading
    only headers where possible."""
    if path.name.endswith(".index.json"):
        shards = sorted(set(json.loads(path.read_text())["weight_map"].values()))
        shapes: dict[str, tuple[int, ...]] = {}
        for shard in shards:
            if not (path.parent / shard).is_file():
                raise FileNotFoundError(f"shard {shard} is missing")
            shapes |= read_shapes(path.parent / shard)
        return shapes
    if path.suffix == ".safetensors":
        with safe_open(str(path), framework="pt") as handle:
            return {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}  # noqa: SIM118
    state = torch.load(path, map_location="meta", weights_only=True, mmap=True)
    return {k: tuple(v.shape) for k, v in state.items()}


def describe_mismatch(
    where: str, expected: dict[str, tuple[int, ...]], actual: dict[str, tuple[int, ...]]
) -> list[str]:
    """Missing, unexpected and wrong-shaped tensors, at most MAX_LISTED of each, in words."""
    missing = [k for k in expected if k not in actual]
    unexpected = [k for k in actual if k not in expected]
    wrong = [
        f"{k} has shape {list(actual[k])}, expected {list(s)}"
        for k, s in expected.items()
        if k in actual and actual[k] != s
    ]
    problems = []
    for label, items in (
        ("is missing tensor", missing),
        ("has unexpected tensor", unexpected),
        ("tensor", wrong),
    ):
        for item in items[:MAX_LISTED]:
            problems.append(f"{where} {label} {item}")
        if len(items) > MAX_LISTED:
            problems.append(f"{where}: and {len(items) - MAX_LISTED} more like that")
    return problems


def _check_widths(configs: dict[str, dict]) -> list[str]:
    """The components must fit together: text widths feed the UNet's cross-attention."""
    text = configs["text_encoder"]["hidden_size"] + configs["text_encoder_2"]["hidden_size"]
    cross = configs["unet"].get("cross_attention_dim")
    if cross != text:
        return [f"sdxl/unet expects text width {cross}, but the text encoders give {text}"]
    return []


def check_photomaker(layout: ModelLayout) -> list[str]:
    from core.diffusion.photomaker.checkpoint import LEGACY_KEYS, read_config, read_parts
    from core.diffusion.photomaker.encoder import PhotoMakerIdEncoder

    path = layout.photomaker
    shown = str(path.relative_to(layout.root))
    try:
        parts = read_parts(path)
        state = {k: v for k, v in parts["id_encoder"].items() if k not in LEGACY_KEYS}
        config = read_config(path, state)
    except ModelError as exc:
        return [str(exc).replace(str(path), shown)]
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in PhotoMakerIdEncoder(config).state_dict().items()}
    actual = {k: tuple(v.shape) for k, v in state.items()}
    return describe_mismatch(f"{shown} (id_encoder)", expected, actual)


def check_faces(layout: ModelLayout) -> list[str]:
    """buffalo_l, if present or needed, complete and loadable. PhotoMaker V2 with a 512-d
    identity input needs it: the offline analyser's embedding is 128-d."""
    folder = layout.buffalo
    shown = folder.relative_to(layout.root)
    present = folder.is_dir() and any(folder.iterdir())
    if not present:
        if _needs_arcface(layout):
            return [f"{shown} is missing: PhotoMaker V2 needs its 512-d face embedding"]
        return []
    problems = [
        f"{shown}/{name} is missing" for name in BUFFALO_FILES if not (folder / name).is_file()
    ]
    try:
        import onnxruntime
    except ImportError:
        return [*problems, f"{shown} cannot be checked: onnxruntime is not installed"]
    for name in BUFFALO_FILES:
        path = folder / name
        if path.is_file():
            try:
                onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            except Exception as exc:  # any unloadable model is one kind of problem
                problems.append(f"{shown}/{name} cannot be loaded ({str(exc).splitlines()[0]})")
    return problems


def _needs_arcface(layout: ModelLayout) -> bool:
    from core.diffusion.photomaker.checkpoint import read_parts

    try:
        state = read_parts(layout.photomaker)["id_encoder"]
    except ModelError:
        return False  # reported by check_photomaker
    token_proj = state.get("qformer_perceiver.token_proj.0.weight")
    return token_proj is not None and token_proj.shape[1] == 512


# The optional models: what each is for, what the system does without it.
OPTIONAL_USES = {
    "taesdxl": ("live previews decoded by TAESD", "previews use the linear approximation"),
    "clip": ("prompt-adherence scores", "portraits get a likeness score only"),
}


def optional_status(layout: ModelLayout) -> list[str]:
    """One line per optional model: present (and used for what) or absent (and the fallback)."""
    lines = []
    for name, (use, fallback) in OPTIONAL_USES.items():
        present = (layout.root / name).is_dir()
        lines.append(f"{name}/: {'present: ' + use if present else 'absent: ' + fallback}")
    return lines


def check_optional(layout: ModelLayout) -> list[str]:
    """An optional folder need not exist; one that does must be complete and well-formed."""
    from diffusers import AutoencoderTiny
    from transformers import CLIPConfig, CLIPModel

    problems = []
    if layout.taesdxl.is_dir():
        weights = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
        problems += _check_optional_model(
            layout, layout.taesdxl, weights, AutoencoderTiny.from_config
        )
    if layout.clip.is_dir():
        weights = ("model.safetensors", "pytorch_model.bin")
        problems += _check_optional_model(
            layout, layout.clip, weights, lambda config: CLIPModel(CLIPConfig(**config))
        )
        problems += _check_clip_files(layout)
    return problems


def _check_optional_model(
    layout: ModelLayout,
    folder: Path,
    weight_names: tuple[str, ...],
    build: Callable[[dict], torch.nn.Module],
) -> list[str]:
    """The folder's config builds a model (on the meta device) whose shapes its weights have."""
    problems = _check_json(folder / "config.json", layout.root)
    weights = next((folder / n for n in weight_names if (folder / n).is_file()), None)
    if weights is None:
        expected_names = " or ".join(weight_names)
        return [*problems, f"{folder.name}/ has no weights file (expected {expected_names})"]
    if problems:
        return problems
    shown = str(weights.relative_to(layout.root))
    try:
        with torch.device("meta"):
            model = build(json.loads((folder / "config.json").read_text()))
    except Exception as exc:  # a config that builds no model is a malformed config
        return [f"{folder.name}/config.json does not describe a valid model: {exc}"]
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    try:
        actual = read_shapes(weights)
    except Exception as exc:
        return [f"{shown} cannot be read ({exc})"]
    # Older checkpoints still carry CLIP's position ids, a buffer transformers rebuilds.
    actual = {k: v for k, v in actual.items() if not k.endswith("position_ids")}
    return describe_mismatch(shown, expected, actual)


def _check_clip_files(layout: ModelLayout) -> list[str]:
    """What the scorer reads besides the weights: its image preprocessing and a tokenizer."""
    folder = layout.clip
    problems = [
        f"clip/{name} is missing"
        for name in ("preprocessor_config.json", "tokenizer_config.json")
        if not (folder / name).is_file()
    ]
    has_bpe = (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    if not (folder / "tokenizer.json").is_file() and not has_bpe:
        problems.append("clip/ has no tokenizer (tokenizer.json, or vocab.json and merges.txt)")
    return problems
