"""The GPU path rehearsed without a GPU: every model tensor on a CUDA-shaped device.

`tests/virtual_cuda.py` gives a `cuda` device whose tensors compute on the CPU but obey the
accelerator's rules, so a tensor left on the CPU, or in fp32 where fp16/bf16 is expected, fails
here as it would on the worker's GPU.
"""

from __future__ import annotations

import pytest
import torch

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.portrait import PortraitPipeline
from core.diffusion.preview import Previewer, PreviewingListener
from core.modelkit.layout import ModelLayout
from tests.virtual_cuda import DeviceMismatch, VirtualCuda, virtual_cuda

PARAMS = PortraitParams(
    composition=CompositionParams(prompt="byzantine emperor", width=64, height=64, steps=3),
    # the tiny models never paint a face: place it by hand, as an operator can
    identity=IdentityParams(steps=3, crop_size=64, face_box=(0.25, 0.2, 0.75, 0.7)),
)


def _model_tensors(pipeline: PortraitPipeline):
    c = pipeline.composition.components
    for module in (c.unet, c.vae, c.text_encoder, c.text_encoder_2, pipeline.identity.encoder):
        yield from module.parameters()
        yield from module.buffers()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
def test_whole_portrait_runs_with_every_model_tensor_on_the_device(
    tiny_models, astronaut, dtype
) -> None:
    with virtual_cuda() as cuda:
        pipeline = PortraitPipeline.load(ModelLayout(tiny_models), cuda, dtype)
        tensors = list(_model_tensors(pipeline))
        assert all(isinstance(t, VirtualCuda) for t in tensors)
        assert {t.dtype for t in tensors if t.is_floating_point()} == {dtype}
        # what the worker runs on a GPU, and `bench gpu` measures: a channels-last UNet
        convs = [
            m.weight
            for m in pipeline.composition.components.unet.modules()
            if isinstance(m, torch.nn.Conv2d)
        ]
        assert all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
        references = pipeline.references([("astronaut.png", astronaut)])
        events = []
        listener = PreviewingListener(events.append, Previewer(), every=1)  # live previews too
        result = pipeline(PARAMS, references, on_step=listener)
        fast = pipeline(PARAMS.model_copy(update={"tier": "fast"}), references)
    assert listener.previews >= 2 and any(e.preview for e in events)
    assert pipeline.fast_tier is not None  # the tiny set ships a fast-tier LoRA: rehearsed too
    assert result.final.size == (64, 64) and fast.final.size == (64, 64)
    assert result.unet_batches["composition"] and result.unet_batches["identity"]


def _masks_on_the_host(change: torch.Tensor, steps: int) -> torch.Tensor:
    """The line main had: thresholds built on the CPU, compared with the map on the device."""
    keep = 1.0 - change.clamp(0, 1)
    thresholds = torch.arange(steps, dtype=keep.dtype).view(-1, 1, 1, 1, 1) / steps
    return keep.unsqueeze(0) > thresholds


def test_the_rehearsal_catches_a_tensor_left_on_the_cpu(
    tiny_models, astronaut, monkeypatch
) -> None:
    monkeypatch.setattr("core.diffusion.identity.step_masks", _masks_on_the_host)
    with virtual_cuda() as cuda:
        pipeline = PortraitPipeline.load(ModelLayout(tiny_models), cuda, torch.float16)
        references = pipeline.references([("astronaut.png", astronaut)])
        with pytest.raises(DeviceMismatch, match=r"cuda:0 and cpu.*\[3, 1, 1, 1, 1\]"):
            pipeline(PARAMS, references)


def test_device_rules_match_the_gpu_ones() -> None:
    with virtual_cuda() as cuda:
        on_device = torch.ones(2, 3).to(cuda)
        assert on_device.device == cuda
        assert (on_device * torch.tensor(2.0)).device == cuda  # 0-d host tensors are fine
        assert on_device[torch.tensor([0])].device == cuda  # host indices are fine
        with pytest.raises(DeviceMismatch):
            _ = on_device + torch.ones(3)
        with pytest.raises(TypeError, match=r"Use Tensor\.cpu"):
            on_device.numpy()
        assert on_device.cpu().numpy().sum() == 6
        with pytest.raises(RuntimeError, match="dtype"):
            torch.nn.Linear(3, 2).to(cuda, torch.float16)(on_device)
