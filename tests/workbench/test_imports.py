"""The workbench sits below the command line: `narcis workbench` imports it, never the reverse
(the launch code lives in `workbench.app.serve`)."""

import ast
from pathlib import Path

import pytest

from core.errors import ConfigError

WORKBENCH = Path(__file__).parents[2] / "workbench"


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}


def test_no_workbench_module_imports_the_command_line() -> None:
    for path in sorted(WORKBENCH.glob("*.py")):
        assert not any(m == "cli" or m.startswith("cli.") for m in imported(path)), path.name


def test_serving_beyond_loopback_needs_a_password(tmp_path) -> None:
    from core.config import load_settings
    from workbench.app import serve

    with pytest.raises(ConfigError, match=r"NARCIS_WORKBENCH_PASSWORD: required .* on 0\.0\.0\.0"):
        serve(load_settings(data_dir=tmp_path), "0.0.0.0", 7860, tmp_path / "no-models")
