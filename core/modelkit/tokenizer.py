"""CLIP's byte-level BPE vocabulary, built offline from the vendored open_clip merges file."""

from __future__ import annotations

import gzip
from functools import cache
from importlib.resources import files

VOCAB_SIZE = 49408
_MERGES_USED = VOCAB_SIZE - 256 * 2 - 2  # 48894 merges after the 512 byte tokens and 2 specials


def _byte_symbols() -> list[str]:
    """GPT-2's reversible byte → printable character table, in CLIP's order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    extra = [b for b in range(256) if b not in printable]
    codes = printable + [256 + i for i in range(len(extra))]
    return [chr(c) for c in codes]


@cache  # two first callers may both read the file: harmless, the result is only read
def clip_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The 49,408-token CLIP vocabulary and its merge list."""
    raw = files("core.modelkit").joinpath("assets/bpe_simple_vocab_16e6.txt.gz").read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : _MERGES_USED + 1]]
    symbols = _byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols]
    tokens += [a + b for a, b in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}, merges
