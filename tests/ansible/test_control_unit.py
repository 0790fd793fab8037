"""The control host's service units give the web process room for many open walls."""

from __future__ import annotations

import jinja2
import yaml

from tests.helpers import ROOT

ROLE = ROOT / "ansible/roles/narcis_control"


def test_the_web_unit_raises_the_open_file_limit() -> None:
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    template = jinja2.Template((ROLE / "templates/narcis-service.service.j2").read_text())
    unit = template.render(
        **defaults,
        item={"key": "narcis-web", "value": defaults["narcis_control_services"]["narcis-web"]},
        narcis_app_user="narcis",
        narcis_app_prefix="/opt/narcis",
        narcis_app_venv="/opt/narcis/venv",
    )
    limit = next(line for line in unit.splitlines() if line.startswith("LimitNOFILE="))
    assert int(limit.split("=")[1]) >= 20_000  # 10,000 idle walls per process, measured
