"""`/health` for the load balancer: the database and Redis answer."""

from __future__ import annotations

from litestar import get
from litestar.response import Response
from sqlalchemy import text

from photowall.services import Services


@get("/health", name="health", exclude_from_csrf=True)
async def health(services: Services) -> Response:
    checks = {}
    try:
        async with services.db.session() as session:
            await session.execute(text("select 1"))
        checks["database"] = "ok"
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
