"""With Redis away, every page answers "busy, try again" (503, our page), never a raw 500."""

from __future__ import annotations

from litestar.testing import TestClient

from core.config import load_settings
from core.store.migrate import upgrade
from tests.services import free_port


def test_a_redis_outage_is_a_busy_page_not_a_500(tmp_path, monkeypatch) -> None:
    from photowall.app import create_app

    monkeypatch.setenv("NARCIS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("NARCIS_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nobody there
    settings = load_settings()
    upgrade(settings.database)
    with TestClient(app=create_app(settings), base_url="http://127.0.0.1") as client:
        pages = client.get("/"), client.post("/make", files={"photos": ("a.png", b"x")})
        for response in pages:
            assert response.status_code == 503, response.text[:300]
            assert "try again in a minute" in response.text
            assert "Traceback" not in response.text
