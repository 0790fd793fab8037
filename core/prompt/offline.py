"""The offline composer: ranks the curated lexicon by meaning, then writes from templates.

Deterministic for (idea, seed): the seed only steers which of the best-ranked entries are
picked and which template words the concept, so every seed stays on topic.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np

from core.prompt.embedding import Embedder
from core.prompt.lexicon import Entry, load_lexicon, tags
from core.prompt.result import CATEGORIES, Draft
from core.sharing import once

PER_CATEGORY = 6  # candidates shown per category
CHOSEN = 15
TAG_WEIGHT = 0.6  # how much an entry's cluster counts beside its own words
TEMPERATURE = 0.05
# Prompt order: who, how they feel, how it is made, then where and when.
ORDER = ("subjects", "emotions", "styles", "mediums", "colors", "places", "time", "themes")

CONCEPTS = (
    "A portrait of {subjects}, {emotions}, in {places} at {time}. It speaks of {themes} and "
    "{themes2}, rendered as {mediums} in the manner of {styles}, with a palette of {colors} "
    "and {colors2}. The light falls on the face first, so that {idea} is the first thing seen.",
    "Imagine {subjects} caught in a moment of {emotions}. Around them, {places} during {time}; "
    "{themes} in every detail. Made as {mediums}, drawing on {styles}, and bathed in {colors} "
    "with touches of {colors2}, the picture turns {idea} into a face you remember.",
    "{idea_cap}: {subjects}, shown with {emotions}. The scene is {places}, {time}, and its mood "
    "is {themes} with an undertow of {themes2}. Painted as {mediums}, in {styles}, its colours "
    "are {colors} and {colors2}, chosen so the sitter's face glows against them.",
)


class OfflineComposer:
    name = "offline"

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.entries = load_lexicon()

    @once
    def _entry_vectors(self) -> np.ndarray:
        return self.embedder.encode([f"{e.text} ({', '.join(e.tags)})" for e in self.entries])

    @once
    def _tag_vectors(self) -> dict[str, np.ndarray]:
        """Each cluster's direction: its name plus the centroid of its members."""
        names = tags()
        vectors = {}
        for name, named in zip(names, self.embedder.encode(list(names)), strict=True):
            members = [i for i, e in enumerate(self.entries) if name in e.tags]
            direction = named + self._entry_vectors[members].mean(axis=0)
            vectors[name] = direction / np.linalg.norm(direction)
        return vectors

    def scores(self, idea: str) -> np.ndarray:
        """Each entry's relevance: its own meaning plus that of its best-matching cluster."""
        vector = self.embedder.encode([idea])[0]
        own = self._entry_vectors @ vector
        tag_score = {t: float(v @ vector) for t, v in self._tag_vectors.items()}
        cluster = np.array([max(tag_score[t] for t in e.tags) for e in self.entries])
        return own + TAG_WEIGHT * cluster

    def nearest_cluster(self, idea: str, top: int = 12) -> str:
        """The tag most shared by the entries that rank highest for the idea."""
        scores = self.scores(idea)
        weight: Counter[str] = Counter()
        for i in np.argsort(-scores)[:top]:
            for tag in self.entries[i].tags:
                weight[tag] += float(scores[i])
        return weight.most_common(1)[0][0]

    def compose(self, idea: str, seed: int) -> Draft:
        rng = np.random.default_rng(_stable_seed(idea, seed))
        scores = self.scores(idea)
        ranked = {c: self._ranked(c, scores) for c in CATEGORIES}
        picked = self._pick(ranked, scores, rng)
        by_category: dict[str, list[Entry]] = {c: [] for c in CATEGORIES}
        for entry in picked:
            by_category[entry.category].append(entry)
        chosen = [e.text for c in ORDER for e in by_category[c]]
        return Draft(
            concept=self._concept(idea, by_category, ranked, rng),
            keywords={c: [self.entries[i].text for i in ranked[c]] for c in CATEGORIES},
            chosen=chosen,
        )

    def _ranked(self, category: str, scores: np.ndarray) -> list[int]:
        indices = [i for i, e in enumerate(self.entries) if e.category == category]
        return sorted(indices, key=lambda i: -scores[i])[:PER_CATEGORY]

    def _pick(
        self, ranked: dict[str, list[int]], scores: np.ndarray, rng: np.random.Generator
    ) -> list[Entry]:
        """One entry per category, then the best of the rest, sampled by relevance."""
        chosen = [self._sample(ranked[c], scores, rng, 1)[0] for c in CATEGORIES]
        rest = [i for c in CATEGORIES for i in ranked[c] if i not in chosen]
        chosen += self._sample(rest, scores, rng, CHOSEN - len(chosen))
        return [self.entries[i] for i in chosen]

    @staticmethod
    def _sample(
        indices: list[int], scores: np.ndarray, rng: np.random.Generator, count: int
    ) -> list[int]:
        weights = np.exp((scores[indices] - scores[indices].max()) / TEMPERATURE)
        picks = rng.choice(
            len(indices), size=min(count, len(indices)), replace=False, p=weights / weights.sum()
        )
        return [indices[k] for k in picks]

    def _concept(
        self,
        idea: str,
        by_category: dict[str, list[Entry]],
        ranked: dict[str, list[int]],
        rng: np.random.Generator,
    ) -> str:
        fill = {c: by_category[c][0].text for c in CATEGORIES}
        for c in ("themes", "colors"):  # a second word, from the picks or else the ranking
            spare = [e.text for e in by_category[c][1:]] + [self.entries[i].text for i in ranked[c]]
            fill[f"{c}2"] = next(w for w in spare if w != fill[c])
        template = CONCEPTS[int(rng.integers(len(CONCEPTS)))]
        return template.format(idea=idea, idea_cap=idea[:1].upper() + idea[1:], **fill)


def _stable_seed(idea: str, seed: int) -> int:
    digest = hashlib.sha256(f"{idea.lower()}\x00{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big")
