import subprocess
import sys

from tests.helpers import ROOT

PROBE = """
import sys
import bot.app, bot.commands, bot.delivery, cli.bot
heavy = sorted(m for m in ("torch", "diffusers", "transformers", "sentence_transformers",
                           "gradio") if m in sys.modules)
print(",".join(heavy) or "none")
"""


def test_the_bot_never_imports_torch_or_diffusers(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"NARCIS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none"
