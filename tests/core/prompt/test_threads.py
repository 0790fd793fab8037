"""The prompt agent shared by threads (two workbench tabs writing prompts, the worker's jobs):
its composer, embedder, tokenizer and in-process cache answer as each call would alone."""

from __future__ import annotations

import operator

import pytest

from core.prompt.agent import PromptAgent
from core.prompt.cache import MemoryCache
from core.prompt.offline import OfflineComposer
from tests.threads import overlapped

IDEAS = ["byzantine emperor", "corporate confidence", "ranch girl", "deep sea diver"]


@pytest.mark.timeout(120)
def test_one_agent_many_threads(embedder) -> None:
    # A two-entry cache: most calls miss it and compose concurrently, and it evicts all along.
    agent = PromptAgent(OfflineComposer(embedder), cache=MemoryCache(size=2))
    calls = [lambda i=i, s=s: agent.run(i, seed=s) for i in IDEAS for s in (0, 1)]
    assert overlapped(calls, operator.eq, rounds=6) == 48
    assert agent.misses > 8
