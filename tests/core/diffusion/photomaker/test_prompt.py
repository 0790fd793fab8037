import pytest
import torch
from transformers import CLIPTokenizer

from core.diffusion.photomaker import IdEncoderConfig, PhotoMakerIdEncoder
from core.diffusion.photomaker.prompt import (
    TRIGGER,
    tokenize_identity_prompt,
    trigger_prompt,
    with_trigger,
)
from core.errors import UserInputError
from core.modelkit.tiny import ID_ENCODER


@pytest.fixture(scope="module")
def tokenizers(tiny_models):
    return [
        with_trigger(CLIPTokenizer.from_pretrained(tiny_models / "sdxl", subfolder=sub))
        for sub in ("tokenizer", "tokenizer_2")
    ]


@pytest.mark.parametrize("images", [1, 2, 4])
@pytest.mark.parametrize("per_image", [1, 2])
def test_class_token_expansion_and_padding(tokenizers, images: int, per_image: int) -> None:
    prompt = trigger_prompt("woman", "byzantine empress, gold mosaic")
    first, second = (tokenize_identity_prompt(t, prompt, images * per_image) for t in tokenizers)
    woman = tokenizers[0].convert_tokens_to_ids("woman</w>")
    for tokens, pad in ((first, 49407), (second, 0)):
        ids, mask = tokens.ids[0].tolist(), tokens.class_mask[0].tolist()
        assert len(ids) == len(mask) == 77
        flagged = [i for i, m in enumerate(mask) if m]
        assert flagged == list(range(2, 2 + images * per_image))  # right after "<bos> a"
        assert {ids[i] for i in flagged} == {woman}
        assert ids[-1] == pad and tokens.text_ids[0, -1].item() == pad
        trigger = tokenizers[0].convert_tokens_to_ids(TRIGGER)
        assert trigger not in ids and trigger not in tokens.text_ids[0].tolist()
        assert tokens.text_ids[0].tolist().count(woman) == 1
    assert torch.equal(first.class_mask, second.class_mask)


def test_prompt_without_trigger_is_refused(tokenizers) -> None:
    with pytest.raises(UserInputError, match="trigger word 'img'"):
        tokenize_identity_prompt(tokenizers[0], "a woman, gold", 2)


def test_fusion_changes_only_the_masked_rows() -> None:
    torch.manual_seed(0)
    encoder = PhotoMakerIdEncoder(IdEncoderConfig(**ID_ENCODER.to_dict()))
    prompt = torch.randn(1, 77, ID_ENCODER.fuse_dim)
    mask = torch.zeros(1, 77, dtype=torch.bool)
    mask[0, 3:7] = True
    fused = encoder.fuse(prompt, torch.randn(4, ID_ENCODER.fuse_dim), mask)
    assert torch.equal(fused[~mask], prompt[~mask])
    assert not torch.isclose(fused[mask], prompt[mask]).all(-1).any()


def test_fusion_needs_one_identity_vector_per_masked_row() -> None:
    encoder = PhotoMakerIdEncoder(IdEncoderConfig(**ID_ENCODER.to_dict()))
    mask = torch.zeros(1, 77, dtype=torch.bool)
    mask[0, 3:5] = True
    with pytest.raises(ValueError, match="2 class-token rows but 3 identity tokens"):
        encoder.fuse(torch.randn(1, 77, ID_ENCODER.fuse_dim), torch.randn(3, 64), mask)
