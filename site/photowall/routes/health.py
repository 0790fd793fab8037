"""`/health` for the load balancer: the database answers and has this code's schema, and
Redis answers. Anything else is a 503: a site that can only answer 503 gets no traffic."""

from __future__ import annotations

from litestar import get
from litestar.response import Response
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from core.store.db import Database
from core.store.migrate import schema_problem
from photowall.services import Services


@get("/health", name="health", exclude_from_csrf=True)
async def health(services: Services) -> Response:
    checks = {}
    try:
        async with services.db.session() as session:
            await session.execute(text("select 1"))
        checks["database"] = "ok"
        checks["schema"] = schema_problem(await _revision(services.db)) or "ok"
    except Exception as exc:  # a health check reports, it does not raise
        checks["database"] = f"down: {exc.__class__.__name__}"
    try:
        await services.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"down: {exc.__class__.__name__}"
    ok = all(v == "ok" for v in checks.values())
    return Response(
        {"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503
    )


async def _revision(db: Database) -> str | None:
    """The database's schema revision (it answers); None when it has none (never migrated)."""
    try:
        async with db.session() as session:
            return await session.scalar(text("select version_num from alembic_version"))
    except (OperationalError, ProgrammingError):  # no such table
        return None
