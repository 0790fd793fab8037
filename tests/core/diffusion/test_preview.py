"""Live previews: the predicted clean image every few steps, small, with no extra VAE work."""

import io

import pytest
import torch
from diffusers import AutoencoderTiny
from PIL import Image

from core.benchkit.instruments import count_loop_syncs, count_vae
from core.diffusion.composition import CompositionStage
from core.diffusion.denoise import make_scheduler, predicted_clean
from core.diffusion.params import CompositionParams
from core.diffusion.preview import (
    SDXL_LATENT_RGB,
    SDXL_LATENT_RGB_BIAS,
    Previewer,
    PreviewingListener,
    latent_rgb,
)
from core.modelkit.tiny import SCHEDULER

SMALL = dict(prompt="a byzantine emperor, gold mosaic", width=64, height=64, steps=10)


@pytest.mark.parametrize("name", ["euler", "dpmpp_2m"])
def test_predicted_clean_is_what_the_scheduler_itself_predicts(name: str) -> None:
    scheduler = make_scheduler(name, dict(SCHEDULER), "ays", 10, torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(1, 4, 8, 8, generator=generator) * scheduler.init_noise_sigma
    for i, t in enumerate(scheduler.timesteps[:3]):
        noise = torch.randn(1, 4, 8, 8, generator=generator)
        ours = predicted_clean(scheduler, latents, noise, i)
        out = scheduler.step(noise, t, latents)
        theirs = out.pred_original_sample if name == "euler" else scheduler.model_outputs[-1]
        assert torch.allclose(ours, theirs, atol=1e-5), (name, i)
        latents = out.prev_sample


def test_the_linear_approximation_is_the_published_matrix() -> None:
    latents = torch.zeros(1, 4, 2, 2)
    latents[0, 1] = 1.0  # channel 1 alone
    rgb = latent_rgb(latents)
    expected = torch.tensor(SDXL_LATENT_RGB[1]) + torch.tensor(SDXL_LATENT_RGB_BIAS)
    assert torch.allclose(rgb[0, :, 0, 0], expected)


def images(previews: list[bytes]) -> list[Image.Image]:
    return [Image.open(io.BytesIO(p)) for p in previews]


def test_stage_one_publishes_previews_every_few_steps(components) -> None:
    events = []
    listener = PreviewingListener(events.append, Previewer(), every=3)
    vae = components.vae
    with count_vae(vae) as vae_calls, count_loop_syncs() as syncs:
        CompositionStage(components)(CompositionParams(**SMALL), on_step=listener)
    assert [e.step for e in events if e.preview] == [3, 6, 9]
    assert all(e.preview is None for e in events if e.step % 3)
    shown = images([e.preview for e in events if e.preview])
    assert all(im.format == "WEBP" and max(im.size) <= 256 for im in shown)
    assert shown[0].size == (8, 8)  # latent resolution: 64² pixels are 8² latents
    assert len({im.tobytes() for im in shown}) == 3  # the picture changes as it forms
    assert dict(vae_calls) == {"decode": 1} and syncs.count == 0


def test_a_plain_on_step_gets_no_previews(components) -> None:
    events = []
    CompositionStage(components)(CompositionParams(**SMALL), on_step=events.append)
    assert len(events) == 10 and all(e.preview is None for e in events)


def test_about_five_previews_per_stage_by_default() -> None:
    listener = PreviewingListener(lambda e: None, Previewer())
    assert [s for s in range(1, 21) if listener.wants_preview(s, 20)] == [4, 8, 12, 16]
    assert [s for s in range(1, 5) if listener.wants_preview(s, 4)] == [1, 2, 3]


def test_large_previews_are_shrunk_to_256_on_the_device(tmp_path) -> None:
    previewer = Previewer.load(tiny_taesd(tmp_path / "taesdxl"), torch.device("cpu"), torch.float32)
    data = previewer.render(torch.randn(1, 4, 64, 48))  # 512 × 384 decoded
    assert Image.open(io.BytesIO(data)).size == (192, 256)
    assert Image.open(io.BytesIO(Previewer().render(torch.randn(1, 4, 128, 128)))).size == (
        128,
        128,
    )  # linear: latent resolution, 128² for a 1024² portrait


def tiny_taesd(folder):
    torch.manual_seed(0)
    AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        num_encoder_blocks=(1, 1, 1, 1),
        num_decoder_blocks=(1, 1, 1, 1),
    ).save_pretrained(folder)
    return folder


def test_a_tiny_vae_in_the_models_folder_decodes_previews(tmp_path, components) -> None:
    previewer = Previewer.load(tiny_taesd(tmp_path / "taesdxl"), torch.device("cpu"), torch.float32)
    assert previewer.kind == "taesd"
    events = []
    listener = PreviewingListener(events.append, previewer, every=5)
    with count_vae(components.vae) as vae_calls:
        CompositionStage(components)(CompositionParams(**SMALL), on_step=listener)
    (shown,) = images([e.preview for e in events if e.preview])
    assert shown.size == (64, 64)  # full resolution from the tiny decoder
    assert dict(vae_calls) == {"decode": 1}  # the tiny VAE is not the SDXL VAE
    assert Previewer.load(tmp_path / "absent", torch.device("cpu"), torch.float32).kind == "linear"


def test_previews_are_throttled_in_time(components) -> None:
    events = []
    listener = PreviewingListener(events.append, Previewer(), min_interval_s=3600, every=1)
    CompositionStage(components)(CompositionParams(**SMALL), on_step=listener)
    assert [e.step for e in events if e.preview] == [1]  # the first, then nothing for an hour
