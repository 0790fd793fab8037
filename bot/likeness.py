"""Likeness scores in the bot's messages: on each result, and the best per face × idea in
batch summaries (plain functions over the stored portrait rows)."""

from __future__ import annotations

import uuid

from bot.services import BotServices
from core.store.models import Portrait


def likeness_suffix(score: float | None) -> str:
    return "" if score is None else f" · likeness {score:.2f}"


def caption(label: str, score: float | None, parameters: dict | None) -> str:
    """A result's caption: its label, likeness, and whether its face was placed, not found."""
    placed = (parameters or {}).get("face") == "placed"
    return f"**{label}**{likeness_suffix(score)}" + (" · face placed, not found" if placed else "")


async def result_caption(services: BotServices, job_id: str, label: str) -> str:
    async with services.db.session() as session:
        portrait = await session.get(Portrait, uuid.UUID(job_id))
    if portrait is None:
        return f"**{label}**"
    return caption(label, portrait.likeness, portrait.parameters)


async def scores(services: BotServices, job_ids: list[str]) -> dict[str, float | None]:
    """Each job's stored likeness (None when unscored or unfinished)."""
    async with services.db.session() as session:
        found = {}
        for job_id in job_ids:
            portrait = await session.get(Portrait, uuid.UUID(job_id))
            found[job_id] = None if portrait is None else portrait.likeness
    return found


def best_per_cell(rows: list[tuple[str, float | None]]) -> list[str]:
    """The best score of each (face × idea) label, best first; unscored cells last."""
    best: dict[str, float | None] = {}
    for label, score in rows:
        kept = best.get(label)
        if label not in best or (score is not None and (kept is None or score > kept)):
            best[label] = score
    ordered = sorted(best.items(), key=lambda item: (item[1] is None, -(item[1] or 0.0)))
    return [
        f"- {label}: " + ("no face to score" if score is None else f"likeness {score:.2f}")
        for label, score in ordered
    ]
