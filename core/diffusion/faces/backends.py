"""The two face analysers and the rule that picks one.

- insightface `buffalo_l` (detection, 106-point landmarks, gender, 512-d ArcFace embedding):
  production, and the only source of the embedding PhotoMaker V2 was trained with.
- dlib's HOG detector with the 68-point predictor and 128-d ResNet embedding, whose weights ship
  inside PyPI packages: offline, CPU-only, used when insightface's models are absent.

Threads: what `make_analyzer` returns may be called from any number of threads at once.
- `DlibAnalyzer` is NOT thread-safe: dlib releases the GIL inside its detector, shape predictor
  and ResNet, which keep scratch buffers in the objects; eight threads on one instance corrupt
  the heap within a second. `make_analyzer` wraps it in `PooledAnalyzer`: up to one private
  copy per core, each used by one thread at a time. Measured on 2 cores, 24 calls from 8
  threads on three photos: one lock 8.1 s, a pool of 2 4.9 s; a copy costs ~100 MB and 2 s.
- `InsightFaceAnalyzer` is thread-safe as it is: onnxruntime allows concurrent `run` calls on
  one session, and after `prepare()` insightface's models only read their settings (the
  detector's anchor cache is a dict filled with equal values: a benign race).
- Images passed in are only read (`convert` makes a copy): share loaded images freely.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from core.diffusion.faces.analysis import Face, FaceAnalyzer
from core.errors import ModelError
from core.modelkit.layout import BUFFALO_FILES
from core.sharing import Pool


class DlibAnalyzer:
    """Not thread-safe (see the module's notes): share it only through `PooledAnalyzer`."""

    name = "dlib"
    embedding_dim = 128
    min_score = 0.5  # HOG margins below this are mostly texture, not faces

    def __init__(self, upsample: int = 1) -> None:
        import dlib

        models = _face_recognition_models_dir()
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
        self._encoder = dlib.face_recognition_model_v1(
            str(models / "dlib_face_recognition_resnet_model_v1.dat")
        )
        self._dlib, self._upsample = dlib, upsample

    def detect(self, image: Image.Image) -> list[Face]:
        pixels = np.asarray(image.convert("RGB"))
        boxes, scores, _ = self._detector.run(pixels, self._upsample, 0.0)
        faces = []
        for box, score in zip(boxes, scores, strict=True):
            shape = self._shape(pixels, box)
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            eyes = np.stack([points[36:42].mean(0), points[42:48].mean(0)])
            embedding = np.array(self._encoder.compute_face_descriptor(pixels, shape))
            faces.append(
                Face(
                    box=(box.left(), box.top(), box.right(), box.bottom()),
                    landmarks=np.concatenate([eyes, points]),
                    score=float(score),
                    embedding=embedding.astype(np.float32),
                )
            )
        return faces


class PooledAnalyzer:
    """A face analyser safe to share: `detect` borrows one of up to `size` private copies of
    an analyser that is not, and returns what that copy returns alone."""

    def __init__(self, make: Callable[[], FaceAnalyzer], size: int | None = None) -> None:
        self._pool = Pool(make, size or min(4, os.cpu_count() or 1))
        with self._pool.borrow() as first:
            self.name, self.embedding_dim = first.name, first.embedding_dim
            self.min_score = first.min_score

    @property
    def copies(self) -> int:
        return self._pool.made

    def detect(self, image: Image.Image) -> list[Face]:
        with self._pool.borrow() as analyzer:
            return analyzer.detect(image)


def shared_dlib() -> PooledAnalyzer:
    """The offline analyser, ready for many threads (the bot's and site's photo checks)."""
    return PooledAnalyzer(DlibAnalyzer)


class InsightFaceAnalyzer:
    """Thread-safe (see the module's notes): one instance serves every thread."""

    name = "insightface"
    embedding_dim = 512

    min_score = 0.5

    def __init__(self, faces_dir: Path, use_cuda: bool) -> None:
        from insightface.app import FaceAnalysis

        providers = (
            ["CUDAExecutionProvider", "CPUExecutionProvider"]
            if use_cuda
            else ["CPUExecutionProvider"]
        )
        # insightface looks in <root>/models/buffalo_l and downloads what is not there: the
        # caller has checked that every file is.
        with contextlib.redirect_stdout(io.StringIO()):  # it prints a line per model
            self._app = FaceAnalysis(name="buffalo_l", root=str(faces_dir), providers=providers)
            self._app.prepare(ctx_id=0 if use_cuda else -1, det_size=(640, 640))

    def detect(self, image: Image.Image) -> list[Face]:
        bgr = np.asarray(image.convert("RGB"))[:, :, ::-1]
        faces = []
        for found in self._app.get(bgr):
            gender = (
                None
                if getattr(found, "gender", None) is None
                else ("man" if int(found.gender) == 1 else "woman")
            )
            faces.append(
                Face(
                    box=tuple(float(v) for v in found.bbox),
                    landmarks=np.asarray(found.kps, dtype=np.float32),
                    score=float(found.det_score),
                    gender=gender,
                    embedding=np.asarray(found.embedding, dtype=np.float32),
                )
            )
        return faces


def make_analyzer(faces_dir: Path, use_cuda: bool = False) -> FaceAnalyzer:
    """insightface when its buffalo_l models are in the models folder and the package is
    installed, otherwise the offline dlib backend. A partial buffalo_l is an error: falling
    back would give V2 a 128-d embedding, and insightface would try to download the rest."""
    buffalo = faces_dir / "models" / "buffalo_l"  # insightface's own <root>/models/<name>
    if buffalo.is_dir() and any(buffalo.iterdir()) and _installed("insightface"):
        missing = [name for name in BUFFALO_FILES if not (buffalo / name).is_file()]
        if missing:
            raise ModelError(
                f"{buffalo} lacks {', '.join(missing)}: run `narcis models download` again"
            )
        return InsightFaceAnalyzer(faces_dir, use_cuda)
    if not _installed("dlib"):
        raise ModelError(
            "no face analyser: install dlib-bin and face-recognition-models, "
            f"or put insightface's buffalo_l models in {buffalo}"
        )
    return shared_dlib()


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _face_recognition_models_dir() -> Path:
    # Imported by path: the package's __init__ imports the removed pkg_resources.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the offline face analyser needs the face-recognition-models package")
    return Path(next(iter(spec.submodule_search_locations))) / "models"
