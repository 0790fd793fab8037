"""The workbench's run history, as plain functions over one shared `RunHistory`.

Every run (stage 1, stage 2, a sweep cell) is kept with every control's value
(`run_controls`); `restore` turns those values back into controls, naming what it cannot use:
a control that no longer exists is left out with a note, a value out of range refuses the
reload with the control and value named (nothing changes on the page).
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from PIL import Image

from core.config import Settings
from core.diffusion.likeness import Likeness
from core.diffusion.params import CompositionParams, PortraitParams
from core.errors import CapacityError, UserInputError
from core.prompt.styles import STYLES
from core.store import faces, history
from core.store.db import Database
from core.store.factory import make_media
from core.store.history import KeptRun, NewRun, RunFilter
from workbench.controls import WIDGET_PATHS, controls_to_params, params_to_controls

T = TypeVar("T")
ANSWER_WITHIN = 30.0  # seconds: a database that does not answer is an error, not a hang
# Controls beside the parameters: the style the prompt was written in, and how a painted
# map was applied (stage 2 only; a sweep cell paints no map).
EXTRAS = ("style", "map.strength", "map.invert")


class RunHistory:
    """The history store of one workbench process, shared by every session's event threads.

    Safe to share: the database engine and the media store are used only on this object's
    own event-loop thread; a caller's thread hands its work over with
    `asyncio.run_coroutine_threadsafe` (thread-safe by contract) and waits for the answer.
    Nothing else in it changes after construction. (One loop, not one per call: the
    connection pool lives as long as the process.)
    """

    def __init__(self, settings: Settings) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="run-history", daemon=True
        )
        self._thread.start()
        self.db = Database(settings.database)
        self.media = make_media(settings)

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result(ANSWER_WITHIN)
        except TimeoutError:
            future.cancel()
            raise CapacityError(
                f"the history database did not answer within {ANSWER_WITHIN:.0f} s"
            ) from None

    def record(self, run: NewRun) -> KeptRun:
        return self._call(history.record_run(self.db, self.media, run))

    def runs(self, where: RunFilter | None = None) -> list[KeptRun]:
        return self._call(history.list_runs(self.db, where or RunFilter()))

    def run(self, run_id: str) -> KeptRun:
        return self._call(history.get_run(self.db, run_id))

    def thumbnail(self, run: KeptRun, name: str) -> Image.Image | None:
        """The thumbnail, or None when its file is gone."""
        data = self._call(history.run_thumbnail(self.media, run, name))
        return None if data is None else Image.open(io.BytesIO(data)).convert("RGB")

    def face_set_names(self) -> list[str]:
        return self._call(faces.face_set_names(self.db))

    def face_set_photos(self, name: str) -> list[bytes]:
        return self._call(faces.face_set_photos(self.db, self.media, name))

    def save_face_set(self, name: str, photos: list[tuple[str, bytes]], owner: str) -> int:
        return self._call(faces.save_face_set(self.db, self.media, name, photos, owner))

    def erase_face_set(self, name: str) -> int:
        return self._call(history.erase_face_set(self.db, self.media, name))

    def close(self) -> None:
        self._call(self.db.dispose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


# What a run keeps of the page


def run_controls(params: PortraitParams, extras: dict[str, Any]) -> dict[str, Any]:
    """Every control's value: the parameters' widgets, and the extras given."""
    return {**params_to_controls(params), **{k: v for k, v in extras.items() if k in EXTRAS}}


def new_run(
    kind: str,
    operator: str,
    params: PortraitParams,
    images: dict[str, Image.Image],
    *,
    extras: dict[str, Any] | None = None,
    face_set: str | None = None,
    likeness: Likeness | None = None,
    timings: dict[str, float] | None = None,
    label: str | None = None,
) -> NewRun:
    seed = params.composition.seed if kind == "stage1" else params.identity.seed
    return NewRun(
        kind=kind,
        operator=operator,
        controls=run_controls(params, extras or {}),
        seed=seed,
        images=images,
        face_set=face_set,
        idea=params.idea,
        label=label,
        likeness=None if likeness is None else likeness.score,
        likeness_analyzer=None if likeness is None else likeness.analyzer,
        timings={k: round(float(v), 3) for k, v in (timings or {}).items()},
    )


# What a reload puts back


@dataclass(frozen=True)
class Restored:
    params: PortraitParams
    extras: dict[str, Any]  # only those the run stored
    notes: list[str]  # what could not be put back, for the operator to read


def restore(stored: dict[str, Any]) -> Restored:
    """A run's stored controls → parameters and extras. Raises UserInputError naming the
    control and value when one is out of range or of the wrong kind."""
    if not isinstance(stored, dict):
        raise UserInputError("this run's stored controls are unreadable")
    notes = []
    gone = sorted(set(stored) - set(WIDGET_PATHS) - set(EXTRAS))
    if gone:
        notes.append(f"not restored, no such control any more: {', '.join(gone)}")
    missing = [name for name in WIDGET_PATHS if name not in stored]
    if missing:  # a run kept before these controls existed: they get their defaults
        notes.append(f"not stored, set to the default: {', '.join(missing)}")
    defaults = params_to_controls(PortraitParams(composition=CompositionParams(prompt="portrait")))
    values = {name: stored.get(name, defaults[name]) for name in WIDGET_PATHS}
    try:
        params = controls_to_params(values)
    except UserInputError as exc:
        raise UserInputError(f"this run cannot be reloaded: {exc}") from None
    except (TypeError, ValueError, AttributeError):  # a value of a kind no widget gives
        raise UserInputError(
            "this run cannot be reloaded: its stored controls are damaged"
        ) from None
    extras = {name: checked_extra(name, stored[name]) for name in EXTRAS if name in stored}
    return Restored(params, extras, notes)


def checked_extra(name: str, value: Any) -> Any:
    fine = {
        "style": lambda v: isinstance(v, str) and v in STYLES,
        "map.strength": lambda v: isinstance(v, int | float) and 0 <= v <= 1,
        "map.invert": lambda v: isinstance(v, bool),
    }[name]
    if not fine(value):
        raise UserInputError(f"this run cannot be reloaded: {name} = {value!r} is out of range")
    return value


def caption(run: KeptRun) -> str:
    """One gallery caption: what, when, how recognisable."""
    kind = {"stage1": "stage 1", "stage2": "stage 2", "cell": "cell"}.get(run.kind, run.kind)
    score = "" if run.likeness is None else f" · likeness {run.likeness:.2f}"
    when = run.created_at.strftime("%m-%d %H:%M:%S")
    return f"{kind} · {when}{score} · seed {run.seed}"


def described(run: KeptRun) -> str:
    """The picked run, in full, as Markdown."""
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in run.timings.items()) or "—"
    likeness = "—" if run.likeness is None else f"{run.likeness:.3f} ({run.likeness_analyzer})"
    return (
        f"**{caption(run)}**  \n"
        f"id `{run.id}` · by {run.operator} · {run.created_at:%Y-%m-%d %H:%M:%S} UTC  \n"
        f"face set: {run.face_set or '(uploaded photos)'} · idea: {run.idea or '—'}"
        f"{f' · cell: {run.label}' if run.label else ''}  \n"
        f"likeness: {likeness} · timings: {timings}"
    )
