"""Stage 1 is plain SDXL; the PhotoMaker LoRA is fused into the UNet for stage 2 only."""

from __future__ import annotations

import time

import numpy as np
import torch
from PIL import Image

from core.diffusion.composition import CompositionStage
from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.photomaker import load_photomaker
from core.diffusion.pngmeta import save_png
from core.modelkit.layout import ModelLayout
from tests.helpers import run_narcis

PARAMS = PortraitParams(
    composition=CompositionParams(prompt="byzantine emperor", width=64, height=64, steps=3),
    identity=IdentityParams(steps=3, crop_size=64, face_box=(0.25, 0.2, 0.75, 0.7)),
)


def test_a_portraits_base_is_exactly_what_compose_paints(
    portrait_pipeline, components, astronaut
) -> None:
    references = portrait_pipeline.references([("astronaut.png", astronaut)])
    portrait = portrait_pipeline(PARAMS, references)
    plain = CompositionStage(components)(portrait.params.composition)  # an SDXL without LoRA
    assert np.array_equal(np.asarray(portrait.base), np.asarray(plain.image))


def test_compose_reproduces_a_portraits_base_from_its_png(
    portrait_pipeline, astronaut, tiny_models, tmp_path
) -> None:
    references = portrait_pipeline.references([("astronaut.png", astronaut)])
    portrait = portrait_pipeline(PARAMS, references)
    save_png(portrait.base, portrait.params, tmp_path / "base.png")
    again = tmp_path / "again.png"
    result = run_narcis(
        "compose",
        "--params",
        str(tmp_path / "base.png"),
        "--out",
        str(again),
        "--models",
        str(tiny_models),
        data=tmp_path / "var",
    )
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(portrait.base))


def test_stage_two_weights_are_base_plus_the_lora_delta_and_switch_back_exactly(
    portrait_pipeline, tiny_models
) -> None:
    unet = portrait_pipeline.composition.components.unet
    switch = portrait_pipeline.identity.lora
    lora = load_photomaker(ModelLayout(tiny_models).photomaker).lora
    modules = dict(unet.named_modules())
    names = sorted({k.removeprefix("unet.").rsplit(".lora_", 1)[0] for k in lora})
    assert switch.layer_count == len(names) > 0
    plain = {n: modules[n].weight.detach().clone() for n in names}
    started = time.perf_counter()
    with switch.fused():
        switched = time.perf_counter() - started
        for name in names:
            delta = lora[f"unet.{name}.lora_B.weight"] @ lora[f"unet.{name}.lora_A.weight"]
            torch.testing.assert_close(modules[name].weight, plain[name] + delta)
    assert all(torch.equal(modules[n].weight, plain[n]) for n in names)  # stage 1 again
    print(f"LoRA switch: {len(names)} layers in {switched * 1e3:.3f} ms")
