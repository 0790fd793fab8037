import json
from pathlib import Path

import pytest
import torch

from core.diffusion.photomaker import IdEncoderConfig, PhotoMakerIdEncoder, load_photomaker
from core.diffusion.photomaker.checkpoint import (
    read_config,
    read_head_dims,
    read_parts,
    save_photomaker,
)
from core.errors import ModelError
from core.modelkit.tiny import ID_ENCODER

REFERENCE = Path(__file__).parents[3] / "fixtures/photomaker_id_encoder_keys.json"
HEADS = {
    "vision_head_dim": ID_ENCODER.vision_head_dim,
    "perceiver_head_dim": ID_ENCODER.perceiver_head_dim,
}


@pytest.fixture(scope="module")
def official_keys() -> dict[str, dict[str, list[int]]]:
    return json.loads(REFERENCE.read_text())


@pytest.mark.parametrize(("version", "params_m"), [(1, 326.27), (2, 543.40)])
def test_full_size_encoder_has_the_official_keys_and_shapes(official_keys, version, params_m):
    with torch.device("meta"):
        encoder = PhotoMakerIdEncoder(IdEncoderConfig(version=version))
    shapes = {k: list(v.shape) for k, v in encoder.state_dict().items()}
    assert shapes == official_keys[f"v{version}"]
    assert round(sum(p.numel() for p in encoder.parameters()) / 1e6, 2) == params_m


@pytest.mark.parametrize("suffix", [".bin", ".safetensors"])
@pytest.mark.parametrize("version", [1, 2])
def test_tiny_checkpoint_round_trips_strictly(tmp_path: Path, suffix: str, version: int) -> None:
    torch.manual_seed(0)
    config = IdEncoderConfig(**ID_ENCODER.to_dict() | {"version": version})
    encoder = PhotoMakerIdEncoder(config)
    lora = {"unet.x.lora_A.weight": torch.randn(4, 8)}
    path = tmp_path / f"photomaker-v{version}{suffix}"
    save_photomaker(path, encoder, lora, HEADS)

    loaded = load_photomaker(path)
    assert loaded.encoder.config.fuse_dim == config.fuse_dim
    assert loaded.version == version
    assert torch.equal(loaded.lora["unet.x.lora_A.weight"], lora["unet.x.lora_A.weight"])
    for key, value in encoder.state_dict().items():
        assert torch.equal(loaded.encoder.state_dict()[key], value), key


@pytest.mark.parametrize(("version", "tokens"), [(1, 1), (2, 2)])
def test_tokens_per_image(version: int, tokens: int) -> None:
    torch.manual_seed(0)
    encoder = PhotoMakerIdEncoder(IdEncoderConfig(**ID_ENCODER.to_dict() | {"version": version}))
    pixels = torch.randn(3, 3, ID_ENCODER.image_size, ID_ENCODER.image_size)
    ids = torch.randn(3, ID_ENCODER.id_embed_dim)
    out = encoder.identity_tokens(pixels, ids)
    assert out.shape == (3, tokens, ID_ENCODER.fuse_dim)


def test_legacy_position_ids_are_tolerated(tmp_path: Path) -> None:
    encoder = PhotoMakerIdEncoder(ID_ENCODER)
    state = encoder.state_dict() | {"vision_model.embeddings.position_ids": torch.arange(5)[None]}
    path = tmp_path / "photomaker-v2.bin"
    torch.save(
        {"id_encoder": state, "lora_weights": {"a": torch.zeros(1)}, "head_dims": HEADS}, path
    )
    assert load_photomaker(path).version == 2


def test_a_wrong_tensor_is_named(tmp_path: Path) -> None:
    state = PhotoMakerIdEncoder(ID_ENCODER).state_dict()
    state["fuse_module.layer_norm.weight"] = torch.zeros(7)
    del state["fuse_module.mlp2.fc1.bias"]
    path = tmp_path / "photomaker-v2.bin"
    torch.save(
        {"id_encoder": state, "lora_weights": {"a": torch.zeros(1)}, "head_dims": HEADS}, path
    )
    with pytest.raises(ModelError) as caught:
        load_photomaker(path)
    assert "missing tensor fuse_module.mlp2.fc1.bias" in str(caught.value)
    assert "fuse_module.layer_norm.weight has shape [7]" in str(caught.value)


def test_a_file_without_both_parts_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "photomaker-v2.bin"
    torch.save({"id_encoder": PhotoMakerIdEncoder(ID_ENCODER).state_dict()}, path)
    with pytest.raises(ModelError, match="has no lora_weights"):
        load_photomaker(path)


@pytest.mark.parametrize("suffix", [".bin", ".safetensors"])
def test_head_sizes_come_from_the_file_never_from_a_stale_side_car(
    tmp_path: Path, suffix: str
) -> None:
    # what main trusted: an id_encoder.json that another (tiny) checkpoint left behind
    (tmp_path / "id_encoder.json").write_text(json.dumps({"vision_head_dim": 8}))
    path = tmp_path / f"photomaker-v2{suffix}"
    save_photomaker(path, PhotoMakerIdEncoder(ID_ENCODER), {"a": torch.zeros(1)}, HEADS)
    assert load_photomaker(path).encoder.config.vision_head_dim == HEADS["vision_head_dim"]
    # a file that declares nothing (the official ones) gets the official head sizes
    official = tmp_path / f"official{suffix}"
    save_photomaker(official, PhotoMakerIdEncoder(ID_ENCODER), {"a": torch.zeros(1)})
    assert read_head_dims(official) is None
    state = read_parts(official)["id_encoder"]
    config = read_config(official, state)
    assert (config.vision_head_dim, config.perceiver_head_dim) == (64, 128)
