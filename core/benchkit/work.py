"""`narcis bench work`: exact counts of what one portrait does, on tiny models of the same
structure, and the TFLOPs those counts cost at full size."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.benchkit.flops import measure
from core.benchkit.instruments import count_loop_syncs, count_vae
from core.diffusion.faces.analysis import FaceChoice, face_from_box
from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.portrait import PortraitPipeline
from core.diffusion.preview import Previewer, PreviewingListener
from core.diffusion.progress import StepEvent
from core.diffusion.references import Reference, reference_from_face
from core.diffusion.tiers import apply_tier
from core.modelkit.layout import ModelLayout
from core.modelkit.tiny import build_tiny

FACE_BOX = (0.3, 0.2, 0.7, 0.7)


@dataclass
class WorkReport:
    tier: str
    steps: dict[str, int]
    unet_calls: dict[str, dict[str, int]]  # stage → {"batch 2": n, "batch 1": m}
    vae: dict[str, int]
    syncs_per_step: float
    graph_breaks: int | None
    tflops: dict[str, float] = field(default_factory=dict)
    previews: dict[str, float | int | str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def original_settings(tier: str = "quality") -> PortraitParams:
    """The original system's settings: 20 + 20 steps, guidance 8 then 4, last 20% unguided."""
    params = PortraitParams(
        composition=CompositionParams(
            prompt="byzantine emperor, gold mosaic",
            width=128,
            height=128,
            steps=20,
            guidance_scale=8.0,
        ),
        identity=IdentityParams(steps=20, guidance_scale=4.0, crop_size=128, face_box=FACE_BOX),
    )
    return apply_tier(params, tier, keep_size=True)


def synthetic_reference(pipeline: PortraitPipeline) -> Reference:
    """A reference with a hand-placed face: counting work needs no real face."""
    image = Image.fromarray(np.full((256, 256, 3), 128, np.uint8))
    face = face_from_box(FACE_BOX, image.size)
    dim = pipeline.identity.encoder.config.id_embed_dim
    face = type(face)(face.box, face.landmarks, face.score, None, np.zeros(dim, np.float32))
    return reference_from_face(
        "synthetic", image, FaceChoice(face, 1), pipeline.identity.encoder.config.image_size
    )


def run_work(tier: str = "quality", explain: bool = True) -> WorkReport:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        build_tiny(Path(folder))
        pipeline = PortraitPipeline.load(
            ModelLayout(Path(folder)), torch.device("cpu"), torch.float32
        )
    params = original_settings(tier)
    reference = synthetic_reference(pipeline)
    vae = pipeline.composition.components.vae
    with count_vae(vae) as vae_counts, count_loop_syncs() as syncs:
        steps_seen = SyncsPerStep(syncs)
        listener = PreviewingListener(steps_seen, Previewer())  # previews on, as in the worker
        result = pipeline(params, [reference], on_step=listener)
    steps = {"composition": params.composition.steps, "identity": params.identity.steps}
    calls = {
        stage: {"batch 2": batches.count(2), "batch 1": batches.count(1)}
        for stage, batches in result.unet_batches.items()
    }
    report = WorkReport(
        tier,
        steps,
        calls,
        dict(vae_counts),
        syncs.count / sum(steps.values()),
        graph_breaks(pipeline) if explain else None,
    )
    report.tflops = full_size_tflops(report)
    report.previews = steps_seen.summary(listener)
    return report


class SyncsPerStep:
    """An on_step that notes, for each step, whether it previewed and how many syncs it made."""

    def __init__(self, syncs) -> None:
        self.syncs, self.last = syncs, 0
        self.rows: list[tuple[bool, int]] = []

    def __call__(self, event: StepEvent) -> None:
        self.rows.append((event.preview is not None, self.syncs.count - self.last))
        self.last = self.syncs.count

    def summary(self, listener: PreviewingListener) -> dict[str, float | int | str]:
        previewed = [n for shown, n in self.rows if shown]
        plain = [n for shown, n in self.rows if not shown]
        return {
            "kind": listener.previewer.kind,
            "previewed steps": len(previewed),
            "ms per previewed step": round(1000 * listener.seconds / max(1, len(previewed)), 2),
            "syncs per preview step": sum(previewed) / max(1, len(previewed)),
            "syncs per other step": sum(plain) / max(1, len(plain)),
        }


def graph_breaks(pipeline: PortraitPipeline) -> int:
    """What torch.compile would have to split the UNet into (0 = one graph)."""
    import torch._dynamo

    unet = pipeline.composition.components.unet
    sample = torch.randn(2, 4, 16, 16)
    text = torch.randn(2, 77, unet.config.cross_attention_dim)
    cond = {
        "text_embeds": torch.randn(
            2,
            unet.config.projection_class_embeddings_input_dim
            - 6 * unet.config.addition_time_embed_dim,
        ),
        "time_ids": torch.randn(2, 6),
    }
    torch._dynamo.reset()
    explained = torch._dynamo.explain(unet)(
        sample,
        torch.tensor(500),
        encoder_hidden_states=text,
        added_cond_kwargs=cond,
        return_dict=False,
    )
    return explained.graph_break_count


def full_size_tflops(report: WorkReport, size: int = 1024) -> dict[str, float]:
    """The counted work priced at full size: a batch-2 call costs two batch-1 calls."""
    costs = measure(size)
    out = {}
    for stage, calls in report.unet_calls.items():
        out[f"{stage} UNet"] = costs.unet_forward * (2 * calls["batch 2"] + calls["batch 1"])
    out["VAE"] = costs.vae_decode * report.vae.get("decode", 0) + costs.vae_encode * report.vae.get(
        "encode", 0
    )
    out["total"] = sum(out.values())
    return {k: round(v, 1) for k, v in out.items()}
