"""How recognisable the person is in a portrait, and how closely it follows its prompt.

- **Likeness**: the cosine similarity between the identity embedding of the portrait's face and
  the mean embedding of the reference photos, both from the same face analyser. Scores from
  different analysers are not comparable (ArcFace's 512-d vectors spread from about 0 for
  strangers to 0.6–0.8 for the same person; dlib's 128-d vectors sit high, about 0.9 for
  strangers and above 0.95 for the same person), so every score records its analyser.
- **Prompt adherence**: CLIP's cosine similarity between the picture and its prompt, where a
  CLIP model folder is present (`$NARCIS_MODELS_DIR/clip`, transformers layout).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from core.diffusion.faces import FaceAnalyzer, choose_face
from core.diffusion.references import Reference

if TYPE_CHECKING:
    from core.diffusion.params import PortraitParams

ANALYZER_LABELS = {"insightface": "arcface", "dlib": "dlib"}


@dataclass(frozen=True)
class Likeness:
    score: float | None  # None when the portrait has no face the analyser finds
    analyzer: str  # "arcface-512" or "dlib-128"
    note: str | None = None  # why there is no score
    prompt_score: float | None = None  # CLIP image–text cosine, when a CLIP model is present
    prompt_model: str | None = None

    @property
    def label(self) -> str:
        """What people read: "likeness 0.71", or why there is none."""
        if self.score is None:
            return f"likeness — ({self.note or 'not measured'})"
        return f"likeness {self.score:.2f}"

    @property
    def described(self) -> str:
        """The label with the analyser that measured it: "likeness 0.71 (dlib-128)"."""
        if self.score is None:
            return f"likeness — ({self.note or 'not measured'}; {self.analyzer})"
        return f"likeness {self.score:.2f} ({self.analyzer})"

    def to_dict(self) -> dict:
        return asdict(self)


def analyzer_label(analyzer: FaceAnalyzer) -> str:
    return f"{ANALYZER_LABELS.get(analyzer.name, analyzer.name)}-{analyzer.embedding_dim}"


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def reference_embedding(references: list[Reference]) -> np.ndarray | None:
    """The mean of the references' unit embeddings: each photo counts the same."""
    vectors = [r.embedding.numpy() for r in references if r.embedding is not None]
    if not vectors:
        return None
    return np.mean([v / (np.linalg.norm(v) + 1e-12) for v in vectors], axis=0)


def face_likeness(
    image: Image.Image, references: list[Reference], analyzer: FaceAnalyzer
) -> Likeness:
    """Likeness of the largest face in `image` to the references."""
    label = analyzer_label(analyzer)
    target = reference_embedding(references)
    if target is None:
        return Likeness(None, label, "the references have no embedding")
    choice = choose_face(analyzer.detect(image), analyzer.min_score)
    if choice is None or choice.face.embedding is None:
        return Likeness(None, label, "no face found in the portrait")
    return Likeness(round(cosine(choice.face.embedding, target), 4), label)


class ClipScorer:
    """CLIP image–text similarity from a transformers model folder (CLIPModel layout).

    Guarded: `score` holds a lock, since tokenizers and image processors are not documented as
    safe for concurrent callers and scoring is short next to a painting.
    """

    def __init__(self, folder: Path, device: torch.device) -> None:
        from transformers import CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

        self.name = folder.name
        self.model = CLIPModel.from_pretrained(folder).to(device).eval().requires_grad_(False)
        self.tokenizer = CLIPTokenizer.from_pretrained(folder)
        # The PIL processor: the same preprocessing, without needing torchvision.
        self.processor = CLIPImageProcessorPil.from_pretrained(folder)
        self.device = device
        self.lock = threading.Lock()

    @classmethod
    def find(cls, folder: Path, device: torch.device) -> ClipScorer | None:
        """A scorer when the folder holds a CLIP model, else None (adherence is optional)."""
        if not (folder / "config.json").is_file():
            return None
        return cls(folder, device)

    def score(self, image: Image.Image, prompt: str) -> float:
        with self.lock:
            return self._score(image, prompt)

    @torch.no_grad()
    def _score(self, image: Image.Image, prompt: str) -> float:
        pixels = self.processor(images=image.convert("RGB"), return_tensors="pt").pixel_values
        tokens = self.tokenizer(
            prompt, truncation=True, max_length=77, padding="max_length", return_tensors="pt"
        )
        model, device = self.model, self.device
        image_vec = _features(model.get_image_features(pixel_values=pixels.to(device)))
        text_vec = _features(model.get_text_features(input_ids=tokens.input_ids.to(device)))
        return round(float(torch.nn.functional.cosine_similarity(image_vec, text_vec)), 4)


def _features(output) -> torch.Tensor:
    """transformers 5 may return a model output rather than the bare projected tensor."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def portrait_likeness(
    image: Image.Image,
    prompt: str,
    references: list[Reference],
    analyzer: FaceAnalyzer,
    clip: ClipScorer | None = None,
) -> Likeness:
    """Both scores for one finished portrait."""
    found = face_likeness(image, references, analyzer)
    if clip is None:
        return found
    return Likeness(found.score, found.analyzer, found.note, clip.score(image, prompt), clip.name)


class LikenessMeter:
    """The face analyser and the optional CLIP model that score finished portraits.

    Safe to share: immutable after construction, and both of its parts are thread-safe."""

    def __init__(self, analyzer: FaceAnalyzer, clip: ClipScorer | None = None) -> None:
        self.analyzer, self.clip = analyzer, clip

    @classmethod
    def load(cls, analyzer: FaceAnalyzer, clip_folder: Path, device: torch.device) -> LikenessMeter:
        return cls(analyzer, ClipScorer.find(clip_folder, device))

    def measure(
        self, final: Image.Image, params: PortraitParams, references: list[Reference]
    ) -> Likeness:
        """Scored against the scene prompt: the one the picture was painted from."""
        prompt = params.composition.prompt
        return portrait_likeness(final, prompt, references, self.analyzer, self.clip)
