"""Rendering templates to bytes (for caching) and answering htmx and plain requests alike."""

from __future__ import annotations

from typing import Any

from litestar import Request


def render(request: Request, template: str, **context: Any) -> str:
    engine = request.app.template_engine
    return engine.get_template(template).render(request=request, **context)
