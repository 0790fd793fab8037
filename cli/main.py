"""The `narcis` command: one entry point, sub-commands per part of the system.

User mistakes end as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from cli import bench, bot, compose, db, gpu, models, portrait, prompt, serve, users, worker
from cli import eval as eval_cli
from cli import workbench as workbench_cli
from core.errors import NarcisError

app = typer.Typer(
    name="narcis",
    help="narcis: artistic AI portraits in which you are recognisable.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(models.app, name="models")
app.command()(portrait.portrait)
app.command()(compose.compose)
app.command()(prompt.prompt)
app.command()(worker.worker)
app.command()(serve.serve)
app.command()(bot.bot)
app.command(name="spot-watch")(gpu.spot_watch)
app.command(name="gpu-controller")(gpu.gpu_controller)
app.command()(workbench_cli.workbench)
app.command(name="eval")(eval_cli.eval_grid)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(bench.app, name="bench")


def main(argv: list[str] | None = None) -> None:
    try:
        code = app(args=argv, prog_name="narcis", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)  # typer returns Exit's code instead of exiting in this mode
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:
        _usage_error(exc)
    except NarcisError as exc:
        _fail(str(exc), 1)


def _usage_error(exc: typer.TyperException) -> None:
    """Typer's usage errors (unknown option, wrong type) as one line naming the option."""
    if exc.__class__.__name__ == "NoArgsIsHelpError":
        print(exc.format_message(), file=sys.stderr)  # the help text itself
        sys.exit(2)
    param = getattr(exc, "param", None)
    first_line = exc.format_message().splitlines()[0]
    option = param.opts[0] if param is not None and getattr(param, "opts", None) else ""
    where = f"{option}: " if option and option not in first_line else ""
    _fail(where + first_line, getattr(exc, "exit_code", 2))


def _fail(message: str, code: int) -> None:
    print(f"narcis: error: {message}", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
