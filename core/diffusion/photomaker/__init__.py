"""PhotoMaker V1/V2: our ID encoder (official parameter names) and its checkpoint loader."""

from core.diffusion.photomaker.checkpoint import PhotoMakerWeights, load_photomaker
from core.diffusion.photomaker.encoder import IdEncoderConfig, PhotoMakerIdEncoder

__all__ = ["IdEncoderConfig", "PhotoMakerIdEncoder", "PhotoMakerWeights", "load_photomaker"]
