"""Plain functions that write the bot's messages (tests call them directly)."""

from __future__ import annotations

import json
from typing import Any

from bot.parameters import PARAMETERS
from core.jobs.events import JobEvent

BAR = 16
MESSAGE_LIMIT = 2000  # Discord's, in characters


def progress_line(event: JobEvent, label: str = "") -> str:
    prefix = f"{label} · " if label else ""
    if event.type == "queued":
        return f"{prefix}⏳ queued"
    if event.type == "started":
        return f"{prefix}🎨 starting"
    if event.type == "step" and event.total:
        filled = round(BAR * event.step / event.total)
        stage = "scene" if event.stage == "composition" else "face"
        return f"{prefix}{stage} `{'█' * filled}{'░' * (BAR - filled)}` {event.step}/{event.total}"
    if event.type == "done":
        return f"{prefix}✅ done"
    if event.type == "cancelled":
        return f"{prefix}✖ cancelled"
    return f"{prefix}⚠️ {event.reason or 'failed'}"


def settings_text(values: dict[str, Any]) -> str:
    lines = [
        f"`{name}` = **{_show(values[name])}** — {PARAMETERS[name].help}" for name in PARAMETERS
    ]
    return "\n".join(lines)


def idea_text(result: dict[str, Any]) -> str:
    keywords = "\n".join(f"**{k}**: {', '.join(v[:6])}" for k, v in result["keywords"].items())
    return (
        f"**{result['idea']}** ({result['backend']}, style {result['style']})\n"
        f"> {result['concept']}\n{keywords}\n**prompt**: {result['prompt']}"
    )[:1900]


def parameters_text(parameters: dict[str, Any], room: int = 1850) -> str:
    return "```json\n" + json.dumps(parameters, indent=1)[:room] + "\n```"


def portrait_parameters(portrait: Any, full: bool) -> str:
    """What the Parameters button shows: the recipe in brief to anyone (enough to tell two
    results apart), and the whole JSON to operators, who can feed it back."""
    params = portrait.parameters or {}
    if not params:
        if portrait.status in ("queued", "running"):
            return "No parameters yet: this portrait is still being painted."
        return "No parameters were recorded for this portrait."
    scene, face = params.get("composition", {}), params.get("identity", {})
    lines = [
        f"**{params.get('idea') or 'portrait'}** · {scene.get('width')}×{scene.get('height')}",
        f"scene seed {scene.get('seed')} · face seed {face.get('seed')} · "
        f"{scene.get('steps')}+{face.get('steps')} steps · schedule {scene.get('schedule')}",
        f"identity strength {100 - face.get('style_strength', 20):g}%",
    ]
    if portrait.likeness is not None:
        lines.append(f"likeness {portrait.likeness:.2f} ({portrait.likeness_analyzer})")
    brief = "\n".join(lines)
    if not full:
        return brief
    return f"{brief}\n{parameters_text(params, MESSAGE_LIMIT - len(brief) - 20)}"


def batch_summary(done: int, failed: int, seconds: float, failures: list[str]) -> str:
    lines = [f"Batch finished: {done} done, {failed} failed, {seconds:.0f} s."]
    lines += [f"- {reason}" for reason in failures[:10]]
    return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)
