"""The prompt agent: checks the idea, asks a composer, applies a style, fits CLIP's window.

    idea → concept (~50 words) → keywords in 8 categories → ~15 chosen → prompt + negative

The LLM composer is used when configured; if it fails the offline composer takes over and
the result carries a warning saying why. Results are cached by (idea, style, backend,
version, seed).
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from core.config import Settings
from core.diffusion.params import DEFAULT_NEGATIVE_PROMPT
from core.errors import UserInputError
from core.prompt.budget import fits, token_count
from core.prompt.cache import MemoryCache, ResultCache
from core.prompt.hygiene import clean_idea
from core.prompt.llm import LLMFailed
from core.prompt.result import Draft, PromptResult
from core.prompt.styles import STYLES

VERSION = 1  # bump when composers change their output: old cache entries stop matching
SUFFIX = "detailed face, expressive eyes"


class Composer(Protocol):
    name: str

    def compose(self, idea: str, seed: int) -> Draft: ...


class PromptAgent:
    def __init__(
        self,
        offline: Composer,
        llm: Composer | None = None,
        cache: ResultCache | None = None,
        version: int = VERSION,
    ) -> None:
        self.offline, self.llm = offline, llm
        self.cache = cache if cache is not None else MemoryCache()
        self.version = version
        self.hits = self.misses = 0

    def run(self, idea: str, style: str = "none", seed: int = 0) -> PromptResult:
        idea = clean_idea(idea)
        if style not in STYLES:
            raise UserInputError(f"unknown style {style!r} (choose from {', '.join(STYLES)})")
        composer = self.llm or self.offline
        key = self.cache_key(idea, style, composer.name, seed)
        cached = self.cache.get(key)
        if cached is not None:
            self.hits += 1
            return PromptResult.model_validate_json(cached)
        self.misses += 1
        result = self._compose(idea, style, seed)
        self.cache.set(key, result.model_dump_json())
        return result

    def cache_key(self, idea: str, style: str, backend: str, seed: int) -> str:
        digest = hashlib.sha256(idea.lower().encode()).hexdigest()[:24]
        return f"narcis:prompt:v{self.version}:{backend}:{style}:{seed}:{digest}"

    def _compose(self, idea: str, style: str, seed: int) -> PromptResult:
        warnings: list[str] = []
        composer = self.llm or self.offline
        try:
            draft = composer.compose(idea, seed)
        except LLMFailed as exc:
            warnings.append(f"the LLM {exc}; used the offline composer instead")
            composer = self.offline
            draft = composer.compose(idea, seed)
        prompt, dropped = fit_prompt(idea, draft.chosen, style)
        if dropped:
            warnings.append(
                f"dropped {len(dropped)} keywords to fit CLIP's 77-token window: "
                + ", ".join(dropped)
            )
        negative = ", ".join(
            [DEFAULT_NEGATIVE_PROMPT, *filter(None, [STYLES[style].negative]), *draft.negative]
        )
        return PromptResult(
            version=self.version,
            idea=idea,
            style=style,
            seed=seed,
            backend=composer.name,
            concept=draft.concept,
            keywords=draft.keywords,
            chosen=draft.chosen,
            prompt=prompt,
            negative_prompt=negative,
            warnings=warnings,
        )


def fit_prompt(idea: str, chosen: list[str], style: str) -> tuple[str, list[str]]:
    """The styled prompt with as many chosen keywords as fit, best first; and those dropped."""
    template = STYLES[style].template
    keep = [word for word in chosen if word not in template]  # the style says it already
    while True:
        core = ", ".join([f"portrait of {idea}", *keep, SUFFIX])
        prompt = STYLES[style].wrap(core)
        if fits(prompt) or not keep:
            break
        keep.pop()
    if not fits(prompt):
        raise UserInputError(f"the idea and style alone take {token_count(prompt)} tokens")
    return prompt, [word for word in chosen if word not in keep and word not in template]


def make_agent(settings: Settings, use_redis: bool = True) -> PromptAgent:
    """The agent a process should use: the LLM when configured, Redis caching when reachable."""
    from core.prompt.cache import make_cache
    from core.prompt.embedding import default_embedder
    from core.prompt.llm import LLMComposer
    from core.prompt.offline import OfflineComposer

    llm = None
    if settings.llm_base_url:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        llm = LLMComposer(settings.llm_base_url, settings.llm_model, key)
    cache = make_cache(settings.redis_url if use_redis else None)
    return PromptAgent(OfflineComposer(default_embedder()), llm, cache)
