import json
from pathlib import Path

import pytest

from core.prompt.agent import PromptAgent
from core.prompt.budget import WINDOW, token_count
from core.prompt.lexicon import load_lexicon
from core.prompt.result import CATEGORIES

IDEAS: dict[str, list[str]] = json.loads(
    (Path(__file__).parents[2] / "fixtures/ideas.json").read_text()
)


@pytest.fixture(scope="module")
def agent(offline_composer) -> PromptAgent:
    return PromptAgent(offline_composer)


def test_lexicon_has_400_tagged_entries_in_eight_categories() -> None:
    entries = load_lexicon()
    assert len(entries) >= 400
    assert {e.category for e in entries} == set(CATEGORIES)
    assert all(e.tags for e in entries)
    assert len({(e.category, e.text) for e in entries}) == len(entries)


@pytest.mark.parametrize("idea", sorted(IDEAS))
def test_prompts_are_on_topic_within_budget_deterministic_and_varied(
    agent, offline_composer, idea: str
) -> None:
    expected = set(IDEAS[idea])
    results = [agent.run(idea, seed=seed) for seed in range(4)]
    again = PromptAgent(offline_composer).run(idea, seed=0)
    assert again == results[0]  # same idea + seed → same everything, even in a new agent
    assert len({r.prompt for r in results}) >= 2  # seeds give variety
    assert offline_composer.nearest_cluster(idea) in expected
    tags = {e.text: set(e.tags) for e in load_lexicon()}
    for result in results:
        assert result.prompt and idea in result.prompt
        assert token_count(result.prompt) <= WINDOW
        assert len(result.chosen) == 15
        on_topic = [k for k in result.chosen if tags[k] & expected]
        assert len(on_topic) >= 8, (idea, result.chosen)  # a majority of the 15
        assert 35 <= len(result.concept.split()) <= 70
        assert set(result.keywords) == set(CATEGORIES)


@pytest.mark.parametrize(
    ("idea", "cluster"),
    [("lighthouse keeper", "ocean"), ("chess grandmaster", "prodigy"), ("bee keeper", "nature")],
)
def test_unseen_ideas_get_relevant_keywords(agent, idea: str, cluster: str) -> None:
    tags = {e.text: set(e.tags) for e in load_lexicon()}
    chosen = agent.run(idea, seed=0).chosen
    assert sum(cluster in tags[k] for k in chosen) >= 3, chosen


def test_styles_wrap_the_prompt_and_extend_the_negative(agent) -> None:
    plain = agent.run("byzantine emperor", seed=1)
    mosaic = agent.run("byzantine emperor", style="byzantine-mosaic", seed=1)
    assert mosaic.prompt.startswith("byzantine mosaic, portrait of byzantine emperor")
    assert "gold tesserae" in mosaic.prompt and "gold tesserae" not in plain.prompt
    assert mosaic.negative_prompt.startswith(plain.negative_prompt)
    assert mosaic.negative_prompt != plain.negative_prompt


def test_a_prompt_that_would_be_cut_is_reported(agent) -> None:
    result = agent.run("byzantine emperor", style="cinematic", seed=0)
    assert token_count(result.prompt) <= WINDOW
    dropped = [w for w in result.warnings if "77-token window" in w]
    assert dropped and all(
        word not in result.prompt for word in dropped[0].split(": ")[1].split(", ")
    )
