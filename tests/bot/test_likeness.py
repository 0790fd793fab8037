"""Likeness in the bot's messages: a result's caption, and batch summaries' best cells."""

from bot.likeness import best_per_cell, caption, likeness_suffix


def test_result_caption_carries_the_score() -> None:
    assert likeness_suffix(0.7134) == " · likeness 0.71"
    assert likeness_suffix(None) == ""


def test_result_caption_says_when_the_face_was_placed_not_found() -> None:
    assert caption("emperor 1", 0.3, {"face": "placed"}) == (
        "**emperor 1** · likeness 0.30 · face placed, not found"
    )
    assert caption("emperor 1", None, {"face": "found"}) == "**emperor 1**"
    assert caption("emperor 1", None, {}) == "**emperor 1**"


def test_batch_summary_lists_the_best_per_face_and_idea_best_first() -> None:
    rows = [
        ("face 1 × pirate", 0.41),
        ("face 1 × pirate", 0.63),
        ("face 2 × pirate", None),
        ("face 2 × emperor", 0.70),
        ("face 1 × emperor", None),
        ("face 1 × emperor", 0.12),
    ]
    assert best_per_cell(rows) == [
        "- face 2 × emperor: likeness 0.70",
        "- face 1 × pirate: likeness 0.63",
        "- face 1 × emperor: likeness 0.12",
        "- face 2 × pirate: no face to score",
    ]
