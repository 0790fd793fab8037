"""`narcis eval`: a faces × ideas × seeds grid of portraits, scored and ranked by likeness.

Writes, into --out: every portrait as a PNG, `results.csv`, `results.md` (the table, best
first) and `sheet.png` (a contact sheet in the same order).
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.common import build, layout, settings
from core.errors import NarcisError, UserInputError

console = Console(stderr=True)
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass
class Row:
    face: str
    idea: str
    seed: int
    likeness: float | None
    analyzer: str
    prompt_score: float | None
    seconds: float
    file: str
    note: str = ""


def eval_grid(
    faces: Annotated[Path, typer.Option(help="folder: one photo per face, or a folder per face")],
    ideas: Annotated[Path, typer.Option(help="text file: one idea per line")],
    out: Annotated[Path, typer.Option(help="folder for portraits, table, CSV and sheet")] = Path(
        "eval"
    ),
    seeds: Annotated[int, typer.Option(help="seeds per face and idea")] = 2,
    size: Annotated[int, typer.Option(help="portrait side")] = 1024,
    steps: Annotated[int, typer.Option(help="steps per stage")] = 20,
    crop_size: Annotated[int, typer.Option(help="stage-2 face crop size")] = 1024,
    mask_core: Annotated[float, typer.Option(help="size of the fully repainted face core")] = 1.0,
    restyle: Annotated[
        bool, typer.Option(help="repaint each face's own photo instead of a new scene")
    ] = False,
    models: Annotated[Path | None, typer.Option(help="models folder")] = None,
) -> None:
    """Paint every face × idea × seed, score each portrait's likeness, rank them."""
    people = read_faces(faces)
    idea_list = read_ideas(ideas)
    if seeds < 1:
        raise UserInputError(f"--seeds must be at least 1, not {seeds}")
    out.mkdir(parents=True, exist_ok=True)
    runner = _Runner(models, size, steps, crop_size, mask_core, restyle)
    rows = []
    for name, photos in people.items():
        references = runner.pipeline.references(photos)
        for idea in idea_list:
            for seed in range(seeds):
                rows.append(runner.one(name, photos, references, idea, seed, out))
                console.print(_progress(rows[-1], len(rows), len(people) * len(idea_list) * seeds))
    ranked = rank(rows)
    write_csv(ranked, out / "results.csv")
    (out / "results.md").write_text(table(ranked))
    write_sheet(ranked, out, out / "sheet.png")
    print(table(ranked), end="")
    console.print(f"wrote {out}/results.csv, results.md, sheet.png", highlight=False)


def read_faces(folder: Path) -> dict[str, list[tuple[str, object]]]:
    """Each photo in the folder is one face; each sub-folder is one face with several photos."""
    from core.photos import read_photo

    if not folder.is_dir():
        raise UserInputError(f"--faces {folder}: not a folder")
    people: dict[str, list[tuple[str, object]]] = {}
    for entry in sorted(folder.iterdir()):
        paths = sorted(entry.iterdir()) if entry.is_dir() else [entry]
        photos = [p for p in paths if p.suffix.lower() in PHOTO_SUFFIXES]
        if photos:
            people[entry.stem] = [(p.name, read_photo(p)) for p in photos[:4]]
    if not people:
        raise UserInputError(f"--faces {folder}: no photos ({', '.join(PHOTO_SUFFIXES)})")
    return people


def read_ideas(path: Path) -> list[str]:
    from core.prompt.hygiene import clean_idea

    if not path.is_file():
        raise UserInputError(f"--ideas {path}: no such file")
    lines = [line.strip() for line in path.read_text().splitlines()]
    ideas = [clean_idea(line) for line in lines if line and not line.startswith("#")]
    if not ideas:
        raise UserInputError(f"--ideas {path}: no ideas (one per line)")
    return ideas


def rank(rows: list[Row]) -> list[Row]:
    """Best likeness first; portraits without a score last."""
    return sorted(rows, key=lambda r: (r.likeness is None, -(r.likeness or 0.0)))


def table(rows: list[Row]) -> str:
    lines = [
        "| # | face | idea | seed | likeness | prompt | file |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, r in enumerate(rows, 1):
        score = "—" if r.likeness is None else f"{r.likeness:.3f}"
        prompt = "—" if r.prompt_score is None else f"{r.prompt_score:.3f}"
        lines.append(f"| {n} | {r.face} | {r.idea} | {r.seed} | {score} | {prompt} | {r.file} |")
    analyzers = sorted({r.analyzer for r in rows})
    return "\n".join(lines) + f"\n\nlikeness: cosine similarity ({', '.join(analyzers)})\n"


def write_csv(rows: list[Row], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(Row)])
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)


def write_sheet(rows: list[Row], folder: Path, path: Path) -> None:
    from PIL import Image

    from core.sheets import contact_sheet

    images = [Image.open(folder / r.file) if r.file else None for r in rows]
    labels = [
        f"{r.face} · {r.idea} · {r.seed} · "
        + ("no score" if r.likeness is None else f"{r.likeness:.2f}")
        for r in rows  # PIL's default font has no dash
    ]
    columns = max(1, round(len(rows) ** 0.5))
    contact_sheet(images, labels, columns).save(path)


def _progress(row: Row, done: int, total: int) -> str:
    score = row.note or ("no score" if row.likeness is None else f"likeness {row.likeness:.3f}")
    return f"{done}/{total} {row.face} · {row.idea} · seed {row.seed}: {score}"


class _Runner:
    """The models, loaded once, and one portrait of the grid at a time."""

    def __init__(
        self,
        models: Path | None,
        size: int,
        steps: int,
        crop_size: int,
        mask_core: float,
        restyle: bool,
    ) -> None:
        from core.diffusion.device import resolve_device, resolve_dtype
        from core.diffusion.likeness import LikenessMeter
        from core.diffusion.portrait import PortraitPipeline
        from core.prompt.agent import make_agent

        config, folder = settings(), layout(models)
        device = resolve_device(config.device)
        self.pipeline = PortraitPipeline.load(folder, device, resolve_dtype(config.dtype, device))
        self.meter = LikenessMeter.load(self.pipeline.analyzer, folder.clip, device)
        self.agent = make_agent(config)
        self.size, self.steps, self.crop_size = size, steps, crop_size
        self.mask_core, self.restyle = mask_core, restyle

    def params(self, idea: str, seed: int):
        from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams

        written = self.agent.run(idea, seed=seed)
        return build(
            PortraitParams,
            idea=idea,
            composition=build(
                CompositionParams,
                prompt=written.prompt,
                negative_prompt=written.negative_prompt,
                width=self.size,
                height=self.size,
                steps=self.steps,
                seed=seed,
            ),
            identity=build(
                IdentityParams,
                steps=self.steps,
                crop_size=self.crop_size,
                mask_core=self.mask_core,
                seed=seed,
            ),
        )

    def one(self, face: str, photos, references, idea: str, seed: int, out: Path) -> Row:
        from core.diffusion.pngmeta import save_png

        params = self.params(idea, seed)
        analyzer = self.meter.analyzer
        try:
            if self.restyle:
                result = self.pipeline.refine(photos[0][1], None, params, references)
            else:
                result = self.pipeline(params, references)
        except NarcisError as exc:  # one failed cell (no face painted) does not end the grid
            return Row(face, idea, seed, None, _label(analyzer), None, 0.0, "", str(exc))
        likeness = self.meter.measure(result.final, result.params, references)
        name = f"{face}-{_slug(idea)}-{seed}.png"
        save_png(result.final, result.params, out / name, likeness.to_dict())
        return Row(
            face,
            idea,
            seed,
            likeness.score,
            likeness.analyzer,
            likeness.prompt_score,
            round(result.seconds.get("total", result.seconds.get("refine", 0.0)), 2),
            name,
            likeness.note or "",
        )


def _label(analyzer) -> str:
    from core.diffusion.likeness import analyzer_label

    return analyzer_label(analyzer)


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())
