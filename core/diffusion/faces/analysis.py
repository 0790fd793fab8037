"""What a face analyser returns, and which face we use when there are several."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from PIL import Image

Gender = Literal["man", "woman"]
# found: detected; given: an operator's face box; placed: where the framing prior puts the head
FaceSource = Literal["found", "given", "placed"]
PLACED_NOTE = (
    "face placed, not found: the picture had no face to detect, "
    "so stage 2 painted one where the composition puts the head"
)


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels
    landmarks: np.ndarray  # (points, 2) in image pixels; the first two are the eye centres
    score: float
    gender: Gender | None = None
    embedding: np.ndarray | None = None  # identity vector (512-d ArcFace, or 128-d dlib)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2

    def to_record(self) -> tuple[dict, bytes | None]:
        """JSON-safe analysis and the raw embedding, for caching in the database."""
        record = {
            "box": list(self.box),
            "landmarks": self.landmarks.tolist(),
            "score": self.score,
            "gender": self.gender,
        }
        embedding = None if self.embedding is None else self.embedding.astype("<f4").tobytes()
        return record, embedding

    @classmethod
    def from_record(cls, record: dict, embedding: bytes | None) -> Face:
        return cls(
            box=tuple(record["box"]),
            landmarks=np.asarray(record["landmarks"], dtype=np.float32),
            score=record["score"],
            gender=record.get("gender"),
            embedding=None if embedding is None else np.frombuffer(embedding, "<f4").copy(),
        )

    def roll(self) -> float:
        """Head roll in radians, from the line between the eyes."""
        (lx, ly), (rx, ry) = self.landmarks[0], self.landmarks[1]
        return float(np.arctan2(ry - ly, rx - lx))


@dataclass(frozen=True)
class FaceChoice:
    face: Face
    found: int  # how many confident faces the photo had
    how: FaceSource = "found"

    @property
    def note(self) -> str | None:
        if self.how == "placed":
            return PLACED_NOTE
        if self.found > 1:
            return f"{self.found} faces found; used the largest"
        return None


class FaceAnalyzer(Protocol):
    name: str
    embedding_dim: int
    min_score: float

    def detect(self, image: Image.Image) -> list[Face]:
        """Every face found, with landmarks and, where the backend can, gender and embedding."""
        ...


def choose_face(faces: list[Face], min_score: float = 0.0) -> FaceChoice | None:
    """The largest confident face, and how many there were; None when there is none."""
    confident = [f for f in faces if f.score >= min_score]
    if not confident:
        return None
    return FaceChoice(max(confident, key=lambda f: f.area), len(confident))


def face_from_box(box: tuple[float, float, float, float], size: tuple[int, int]) -> Face:
    """A face placed by hand: a box in fractions of the picture, eyes where faces have them."""
    width, height = size
    x0, y0, x1, y1 = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    w, h = x1 - x0, y1 - y0
    eyes = np.array([[x0 + 0.32 * w, y0 + 0.4 * h], [x0 + 0.68 * w, y0 + 0.4 * h]], np.float32)
    return Face(box=(x0, y0, x1, y1), landmarks=eyes, score=1.0)


def face_to_box(face: Face, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """A face's box as fractions of the picture: what `face_from_box` reads."""
    width, height = size
    x0, y0, x1, y1 = face.box
    return x0 / width, y0 / height, x1 / width, y1 / height
