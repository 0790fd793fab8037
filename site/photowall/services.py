"""What the handlers use, built once per process by `create_app` and injected by name."""

from core.jobs.frontend import FrontEnd as Services

__all__ = ["Services"]
