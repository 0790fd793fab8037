"""`narcis serve`: the photowall web site."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import settings


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="server processes")] = 1,
) -> None:
    """Serve the public photowall (the queue and a worker do the painting)."""
    import uvicorn
    from photowall.closing import PacedCloseProtocol

    from core.config import require_real_secret
    from core.store.migrate import require_current

    config = settings()  # fail here, in one line, on a bad setting
    require_real_secret(config, host, *config.site_hosts)
    require_current(config.database)  # a site that could only answer 503 does not start
    uvicorn.run(
        "photowall.app:create_app",
        factory=True,
        http=PacedCloseProtocol,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # X-Forwarded-For is believed from NARCIS_SITE_PROXIES only
        server_header=False,
        # Requests in flight get this long to finish; open streams end at once (closing.py).
        timeout_graceful_shutdown=10,
    )
