"""Face analysis: one interface, two backends (insightface on GPU hosts, dlib offline)."""

from core.diffusion.faces.analysis import Face, FaceAnalyzer, FaceChoice, choose_face
from core.diffusion.faces.backends import make_analyzer

__all__ = ["Face", "FaceAnalyzer", "FaceChoice", "choose_face", "make_analyzer"]
