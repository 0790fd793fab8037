"""The control host's service units: room for many open walls, bounded malloc arenas."""

from __future__ import annotations

import jinja2
import yaml

from tests.helpers import ROOT

ROLE = ROOT / "ansible/roles/narcis_control"
DEFAULTS = yaml.safe_load((ROLE / "defaults/main.yml").read_text())


def unit(name: str) -> list[str]:
    template = jinja2.Template((ROLE / "templates/narcis-service.service.j2").read_text())
    return template.render(
        **DEFAULTS,
        item={"key": name, "value": DEFAULTS["narcis_control_services"][name]},
        narcis_app_user="narcis",
        narcis_app_prefix="/opt/narcis",
        narcis_app_venv="/opt/narcis/venv",
    ).splitlines()


def test_the_web_unit_raises_the_open_file_limit() -> None:
    limit = next(line for line in unit("narcis-web") if line.startswith("LimitNOFILE="))
    assert int(limit.split("=")[1]) >= 20_000  # 10,000 idle walls per process, measured


def test_every_control_unit_caps_malloc_arenas() -> None:
    for name in DEFAULTS["narcis_control_services"]:
        assert "Environment=MALLOC_ARENA_MAX=2" in unit(name), name
