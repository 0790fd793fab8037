"""A random-weight CLIP model in the transformers layout, built offline for tests: the scores
it gives mean nothing, but every line of the scoring path runs."""

from __future__ import annotations

from pathlib import Path

from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

from core.modelkit.tiny import clip_vocab_and_merges


def build_tiny_clip(folder: Path) -> Path:
    config = CLIPConfig(
        text_config=dict(
            vocab_size=49408,
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            bos_token_id=49406,
            eos_token_id=49407,
            pad_token_id=1,
        ),
        vision_config=dict(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
        ),
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(folder)
    vocab, merges = clip_vocab_and_merges()
    CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77).save_pretrained(folder)
    processor = CLIPImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    processor.save_pretrained(folder)
    return folder
