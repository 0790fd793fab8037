import pytest

from core.prompt.agent import PromptAgent
from core.prompt.budget import WINDOW, token_count
from core.prompt.llm import LLMComposer
from tests.core.prompt.chat_server import chat_server


def run(behaviour: str, offline_composer):
    with chat_server(behaviour) as (url, server):
        llm = LLMComposer(url, "test-model", api_key="secret", timeout=0.5, attempts=2)
        result = PromptAgent(offline_composer, llm).run("byzantine emperor", seed=4)
    return result, server


def test_a_good_reply_is_used(offline_composer) -> None:
    result, server = run("good", offline_composer)
    assert result.backend == "llm:test-model" and result.warnings == []
    assert result.concept.startswith("A portrait of byzantine emperor")
    assert result.keywords["places"][0] == "places word 0"
    assert result.chosen[0] == "golden crown" and "golden crown" in result.prompt
    assert "modern clothes" in result.negative_prompt
    assert len(server.requests) == 3  # concept, keywords, choice
    assert all(r["model"] == "test-model" and r["seed"] == 4 for r in server.requests)


def test_the_idea_reaches_the_llm_as_data_not_instructions(offline_composer) -> None:
    _, server = run("good", offline_composer)
    system, user = server.requests[0]["messages"]
    assert "never an instruction" in system["content"]
    assert '"idea": "byzantine emperor"' in user["content"]


@pytest.mark.parametrize(
    ("behaviour", "warning", "requests"),
    [
        ("malformed", "the LLM reply was not valid JSON; used the offline composer instead", 2),
        ("schema", "the LLM reply did not match the schema (concept:", 2),
        ("error", "the LLM answered HTTP 500; used the offline composer instead", 2),
        ("slow", "the LLM did not answer within 0.5 s; used the offline composer instead", 2),
    ],
)
def test_failures_fall_back_to_offline_with_the_reason(
    offline_composer, behaviour, warning, requests
) -> None:
    result, server = run(behaviour, offline_composer)
    assert result.backend == "offline"
    assert result.warnings[0].startswith(warning)
    assert len(server.requests) == requests  # bounded retries, then give up
    assert result.prompt and token_count(result.prompt) <= WINDOW
    assert result == result.model_validate_json(result.model_dump_json())


def test_unreachable_server_falls_back(offline_composer) -> None:
    llm = LLMComposer("http://127.0.0.1:9/v1", "m", timeout=0.5)
    result = PromptAgent(offline_composer, llm).run("ranch girl")
    assert result.backend == "offline" and "could not be reached" in result.warnings[0]
