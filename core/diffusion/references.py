"""Reference photos → what PhotoMaker needs: a face crop for CLIP and an identity embedding."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.diffusion.crop import crop, face_crop_box
from core.diffusion.faces import Face, FaceAnalyzer, FaceChoice, choose_face
from core.diffusion.faces.analysis import Gender
from core.diffusion.photomaker.prompt import NEUTRAL_CLASS_WORD
from core.errors import NoFaceError

CLIP_MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(3, 1, 1)
CLIP_STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(3, 1, 1)
REFERENCE_MARGIN = 0.4  # face-widths around the face: the encoder sees face and some hair


@dataclass(frozen=True)
class Reference:
    name: str
    pixels: torch.Tensor  # (3, S, S), CLIP-normalised
    embedding: torch.Tensor | None
    gender: Gender | None
    note: str | None  # e.g. "2 faces found; used the largest"
    # The face's width / height, and its height as a share of the photo's: the proportions
    # a placed face takes when stage 1 painted none (core/diffusion/framing.py).
    face_shape: tuple[float, float] | None = None


def prepare_reference(
    name: str, image: Image.Image, analyzer: FaceAnalyzer, image_size: int
) -> Reference:
    """Find the face in one reference photo; a photo without one is an error naming it."""
    return reference_from_face(name, image, find_face(name, image, analyzer), image_size)


def find_face(name: str, image: Image.Image, analyzer: FaceAnalyzer) -> FaceChoice:
    choice = choose_face(analyzer.detect(image), analyzer.min_score)
    if choice is None:
        raise NoFaceError(f"no face found in {name}; use a photo where the face is clearly visible")
    return choice


def reference_from_face(
    name: str, image: Image.Image, choice: FaceChoice, image_size: int
) -> Reference:
    """The encoder's input for a face already found (perhaps read back from a cache)."""
    box = face_crop_box(choice.face, image.size, REFERENCE_MARGIN, image_size)
    pixels = torch.from_numpy(np.asarray(crop(image, box), dtype=np.float32) / 255.0)
    pixels = (pixels.permute(2, 0, 1) - CLIP_MEAN) / CLIP_STD
    embedding = choice.face.embedding
    return Reference(
        name=name,
        pixels=pixels,
        embedding=None if embedding is None else torch.from_numpy(embedding),
        gender=choice.face.gender,
        note=None if choice.note is None else f"{name}: {choice.note}",
        face_shape=face_shape(choice.face, image.size),
    )


def face_shape(face: Face, size: tuple[int, int]) -> tuple[float, float] | None:
    x0, y0, x1, y1 = face.box
    if x1 <= x0 or y1 <= y0:
        return None
    return (x1 - x0) / (y1 - y0), (y1 - y0) / size[1]


def class_word(references: list[Reference]) -> str:
    """The most common detected gender as the class word, or a neutral word."""
    genders = Counter(r.gender for r in references if r.gender is not None)
    return genders.most_common(1)[0][0] if genders else NEUTRAL_CLASS_WORD
