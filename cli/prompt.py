"""`narcis prompt`: show every stage of the prompt agent for an idea."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.common import settings

console = Console(soft_wrap=True)


def prompt(
    idea: Annotated[str, typer.Argument(help="one to four words, e.g. 'byzantine emperor'")],
    style: Annotated[
        str, typer.Option(help="a style preset (see --help of narcis portrait)")
    ] = "none",
    seed: Annotated[int, typer.Option(min=0, help="another seed gives another variation")] = 0,
    json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Turn an idea into a portrait concept, keywords and an SDXL prompt."""
    from core.prompt.agent import make_agent

    result = make_agent(settings()).run(idea, style=style, seed=seed)
    if json:
        print(result.model_dump_json(indent=2))
        return
    console.print(
        f"[bold]idea[/bold]      {result.idea}  ({result.backend}, style {result.style}, "
        f"seed {result.seed})",
        highlight=False,
    )
    console.print(f"[bold]concept[/bold]   {result.concept}", highlight=False)
    table = Table("category", "keywords (best first)", show_header=True, box=None)
    for category, words in result.keywords.items():
        table.add_row(category, ", ".join(words))
    console.print(table)
    console.print(f"[bold]chosen[/bold]    {', '.join(result.chosen)}", highlight=False)
    console.print(f"[bold]prompt[/bold]    {result.prompt}", highlight=False)
    console.print(f"[bold]negative[/bold]  {result.negative_prompt}", highlight=False)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
