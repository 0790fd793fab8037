"""Shared fixtures: offline, one thread, one tiny model set per test session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.modelkit.tiny import build_tiny

    root = tmp_path_factory.mktemp("models")
    build_tiny(root, seed=0)
    return root


@pytest.fixture(scope="session")
def components(tiny_models: Path):
    from core.diffusion.components import load_sdxl
    from core.modelkit.layout import ModelLayout

    return load_sdxl(ModelLayout(tiny_models), torch.device("cpu"), torch.float32)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated NARCIS_DATA_DIR for tests that load settings."""
    monkeypatch.setenv("NARCIS_DATA_DIR", str(tmp_path / "var"))
    return tmp_path / "var"
