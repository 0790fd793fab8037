"""Where a portrait puts the head, for a stage-1 picture in which no face can be found.

Some styles defeat every face detector (mosaics, cubism, silhouettes, a figure seen from afar,
and the noise of random weights), yet the picture is still a portrait: stage 2 can paint the
person's face where the composition would have it. The framing prior says where that is:

- how much of the picture's height the face takes, from the prompt's framing words
  (a close-up, a half-length figure, a full figure), a head-and-shoulders portrait otherwise;
- where the eyes sit: on the upper third, higher the more of the figure the picture shows;
- the face's shape (width to height) and, for a plain portrait, some of its size, from the
  faces in the reference photos: a close selfie leads to a closer portrait.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.diffusion.references import Reference

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the picture


@dataclass(frozen=True)
class Framing:
    name: str
    face_height: float  # the face box's share of the picture's height
    eye_line: float  # where the eyes are, from the top, as a share of the height


CLOSE_UP = Framing("close-up", 0.46, 0.42)
PORTRAIT = Framing("portrait", 0.30, 0.36)
HALF_LENGTH = Framing("half-length", 0.18, 0.30)
FULL_FIGURE = Framing("full figure", 0.09, 0.17)
# The first framing whose words are in the prompt wins; the more specific words come first.
FRAMING_WORDS: tuple[tuple[Framing, tuple[str, ...]], ...] = (
    (FULL_FIGURE, ("full body", "full-body", "full length", "full-length", "full figure",
                   "wide shot", "long shot", "from afar", "in the distance", "distant figure")),
    (HALF_LENGTH, ("half body", "half-body", "half length", "half-length", "waist up",
                   "waist-up", "upper body", "medium shot", "three-quarter", "cowboy shot")),
    (CLOSE_UP, ("extreme close-up", "close-up", "close up", "closeup", "headshot", "head shot",
                "face only", "macro")),
)  # fmt: skip
FACE_ASPECT = 0.78  # width / height of a detector's face box, when no reference says
ASPECT_RANGE = (0.6, 1.0)
PORTRAIT_RANGE = (0.22, 0.46)  # how far the references may move a plain portrait's face size
EYES_IN_BOX = 0.4  # the eyes' height within a face box (as `face_from_box` places them)
EDGE = 0.02  # the box keeps this far from the picture's edges


def framing_of(prompt: str) -> Framing:
    text = " " + re.sub(r"\s+", " ", prompt.lower()) + " "
    for framing, words in FRAMING_WORDS:
        if any(word in text for word in words):
            return framing
    return PORTRAIT


def place_face(size: tuple[int, int], prompt: str, references: Sequence[Reference]) -> Box:
    """The face box a composition of `size` framed as `prompt` says would hold the head,
    shaped like the references' faces; always inside the picture."""
    width, height = size
    framing = framing_of(prompt)
    shapes = [r.face_shape for r in references if r.face_shape is not None]
    aspect = _clamp(_mean([a for a, _ in shapes], FACE_ASPECT), *ASPECT_RANGE)
    face_height = framing.face_height
    if framing is PORTRAIT and shapes:  # halfway between the prior and the photos' framing
        face_height = _clamp((face_height + _mean([h for _, h in shapes], 0)) / 2, *PORTRAIT_RANGE)
    face_width = face_height * height * aspect / width
    if face_width > 1 - 2 * EDGE:  # a tall, narrow picture: shrink the face to fit across
        face_height *= (1 - 2 * EDGE) / face_width
        face_width = 1 - 2 * EDGE
    top = _clamp(framing.eye_line - EYES_IN_BOX * face_height, EDGE, 1 - EDGE - face_height)
    left = (1 - face_width) / 2
    return tuple(round(v, 4) for v in (left, top, left + face_width, top + face_height))


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)
