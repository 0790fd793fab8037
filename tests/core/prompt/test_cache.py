import redis

from core.prompt.agent import PromptAgent
from core.prompt.cache import MemoryCache, RedisCache, make_cache
from core.prompt.result import Draft


class CountingComposer:
    """The real offline composer, counting how often it is asked."""

    def __init__(self, composer) -> None:
        self.composer, self.name, self.calls = composer, composer.name, 0

    def compose(self, idea: str, seed: int) -> Draft:
        self.calls += 1
        return self.composer.compose(idea, seed)


def check_cache(cache, offline_composer) -> None:
    composer = CountingComposer(offline_composer)
    agent = PromptAgent(composer, cache=cache)
    first = agent.run("vampiric beauty", seed=2)
    second = agent.run("  Vampiric   beauty ", seed=2)  # same idea once cleaned (case-blind key)
    assert (agent.hits, agent.misses, composer.calls) == (1, 1, 1)
    assert second.prompt == first.prompt
    agent.run("vampiric beauty", seed=3)
    agent.run("vampiric beauty", style="cinematic", seed=2)
    assert (agent.hits, agent.misses, composer.calls) == (1, 3, 3)

    bumped = PromptAgent(composer, cache=cache, version=2)
    bumped.run("vampiric beauty", seed=2)
    assert (bumped.hits, bumped.misses, composer.calls) == (0, 1, 4)


def test_memory_cache_hits_and_version_bump(offline_composer) -> None:
    check_cache(MemoryCache(), offline_composer)


def test_redis_cache_hits_and_version_bump(redis_url, offline_composer) -> None:
    redis.Redis.from_url(redis_url).flushdb()
    check_cache(RedisCache(redis_url), offline_composer)
    keys = redis.Redis.from_url(redis_url).keys("narcis:prompt:*")
    assert len(keys) == 4 and all(k.startswith(b"narcis:prompt:v") for k in keys)


def test_make_cache_prefers_a_reachable_redis(redis_url) -> None:
    assert isinstance(make_cache(redis_url), RedisCache)
    assert isinstance(make_cache("redis://127.0.0.1:9/0"), MemoryCache)
    assert isinstance(make_cache(None), MemoryCache)
