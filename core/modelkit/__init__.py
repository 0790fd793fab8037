"""The model folder: its layout, the offline tiny set, validation and download."""

from core.modelkit.layout import ModelLayout

__all__ = ["ModelLayout"]
