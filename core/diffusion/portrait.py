"""The two-stage portrait: compose, find the face, crop, map, inject identity, paste back."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.diffusion.components import SDXLComponents, load_sdxl, one_painting_at_a_time
from core.diffusion.composition import CompositionResult, CompositionStage
from core.diffusion.crop import crop, face_crop_box, paste_back
from core.diffusion.faces import FaceAnalyzer, FaceChoice, choose_face, make_analyzer
from core.diffusion.faces.analysis import face_from_box, face_to_box
from core.diffusion.framing import place_face
from core.diffusion.identity import IdentityRequest, IdentityStage
from core.diffusion.likeness import LikenessMeter
from core.diffusion.masks import face_change_map
from core.diffusion.params import PortraitParams
from core.diffusion.photomaker import load_photomaker
from core.diffusion.preview import Previewer, in_base
from core.diffusion.progress import OnStep, ShouldStop, never
from core.diffusion.references import Reference, class_word, prepare_reference
from core.errors import ModelError, NoFaceError
from core.modelkit.layout import ModelLayout


@dataclass
class PortraitResult:
    final: Image.Image
    base: Image.Image  # stage 1
    crop: Image.Image
    change_map: Image.Image  # white = regenerated
    refined_crop: Image.Image
    params: PortraitParams  # as run: the stage-1 seed is the one that found a face
    seconds: dict[str, float] = field(default_factory=dict)
    unet_batches: dict[str, list[int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def intermediates(self) -> dict[str, Image.Image]:
        return {
            "base": self.base,
            "crop": self.crop,
            "map": self.change_map,
            "refined": self.refined_crop,
            "final": self.final,
        }


class PortraitPipeline:
    """Stage 1 (composition) then stage 2 (identity) around one face analyser.

    Safe to share between threads: a painting (`__call__`, `refine`, either stage alone) holds
    the components' lock throughout, fast-tier switch included, so paintings take turns; the
    face analyser is thread-safe by itself (core/diffusion/faces/backends.py).
    """

    def __init__(
        self, components: SDXLComponents, identity: IdentityStage, analyzer: FaceAnalyzer
    ) -> None:
        self.components = components
        self.composition = CompositionStage(components)
        self.identity = identity
        self.analyzer = analyzer
        self.fast_tier: FastTier | None = None

    @classmethod
    def load(
        cls,
        layout: ModelLayout,
        device: torch.device,
        dtype: torch.dtype,
        *,
        optimize: bool | None = None,
        compile_unet: bool = False,
    ) -> PortraitPipeline:
        """`optimize` (default: on a GPU) applies what `narcis bench gpu` calls "ours"."""
        components = load_sdxl(layout, device, dtype)
        photomaker = load_photomaker(layout.photomaker, device, dtype)
        analyzer = make_analyzer(layout.faces, use_cuda=device.type == "cuda")
        pipeline = cls(components, IdentityStage(components, photomaker), analyzer)
        if layout.fast_lora is not None:
            pipeline.fast_tier = FastTier.load(components.unet, layout.fast_lora)
        if device.type == "cuda" if optimize is None else optimize:
            pipeline.optimize(compile_unet)
        return pipeline

    def optimize(self, compile_unet: bool) -> None:
        """The production configuration on a GPU: a channels-last UNet (its convolutions'
        fast layout), compiled once for its fixed shapes when asked (NARCIS_COMPILE=1). The
        LoRA is fused for stage 2 either way (FusedLora)."""
        components = self.composition.components
        components.unet.to(memory_format=torch.channels_last)
        if compile_unet:
            components.unet = torch.compile(components.unet, fullgraph=True, dynamic=False)

    def previewer(self, layout: ModelLayout) -> Previewer:
        """Live previews: the tiny VAE in the models folder, or the linear approximation."""
        c = self.composition.components
        return Previewer.load(layout.taesdxl, c.device, c.dtype)

    def likeness_meter(
        self, layout: ModelLayout, device: torch.device | None = None
    ) -> LikenessMeter:
        """Scores portraits with this pipeline's face analyser, and CLIP where it is present."""
        device = device or self.composition.components.device
        return LikenessMeter.load(self.analyzer, layout.clip, device)

    def tier(self, params: PortraitParams) -> contextlib.AbstractContextManager:
        """The fast tier's LoRA is switched on for fast-tier portraits only."""
        if self.fast_tier is None:
            return contextlib.nullcontext()
        return self.fast_tier.active(params.tier == "fast")

    def references(self, photos: list[tuple[str, Image.Image]]) -> list[Reference]:
        size = self.identity.encoder.config.image_size
        return [prepare_reference(name, image, self.analyzer, size) for name, image in photos]

    @one_painting_at_a_time
    def __call__(
        self,
        params: PortraitParams,
        references: list[Reference],
        *,
        on_step: OnStep | None = None,
        should_stop: ShouldStop = never,
    ) -> PortraitResult:
        started = time.perf_counter()
        # 1. Stage 1, with a new seed while the picture has no face
        with self.tier(params):
            base, face, params = self.compose_with_face(params, on_step, should_stop)
        # 2. Stage 2 on the face found, given, or placed where the framing prior says
        result = self.refine(
            base.image, face, params, references, on_step=on_step, should_stop=should_stop
        )
        result.seconds["composition"] = base.seconds
        result.seconds["total"] = time.perf_counter() - started
        result.unet_batches["composition"] = list(base.unet_batches)
        result.notes = base.warnings + result.notes
        return result

    def compose_with_face(
        self, params: PortraitParams, on_step: OnStep | None, should_stop: ShouldStop
    ) -> tuple[CompositionResult, FaceChoice | None, PortraitParams]:
        """Stage 1, with new seeds while the picture has no face; after the last try, the
        face is None (to be placed) or, with `place_face` off, an error."""
        composition = params.composition
        for attempt in range(params.face_retries + 1):
            seed = (composition.seed + attempt) % 2**63
            tried = composition.model_copy(update={"seed": seed})
            base = self.composition(tried, on_step=on_step, should_stop=should_stop)
            face = self.find_face(base.image, params)
            if face is not None:
                return base, face, params.model_copy(update={"composition": tried})
        if params.place_face:  # on the last try's picture
            return base, None, params.model_copy(update={"composition": tried})
        raise NoFaceError(
            f"stage 1 painted no face we could find in {params.face_retries + 1} tries; "
            "try another idea or style, or another seed"
        )

    def find_face(self, base: Image.Image, params: PortraitParams) -> FaceChoice | None:
        """The operator's face box, else the largest detected face, else None."""
        box = params.identity.face_box
        if box is not None:
            how = "placed" if params.face == "placed" else "given"  # a placed face, re-run
            return FaceChoice(face_from_box(box, base.size), 1, how)
        return choose_face(self.analyzer.detect(base), self.analyzer.min_score)

    def locate(
        self,
        base: Image.Image,
        face: FaceChoice | None,
        params: PortraitParams,
        references: list[Reference],
    ) -> tuple[FaceChoice, PortraitParams]:
        """The face stage 2 works on, and the parameters that reproduce it: a placed face is
        recorded as its box, so a re-run paints the same region."""
        face = face or self.find_face(base, params)
        if face is None and not params.place_face:
            raise NoFaceError("no face found in the base image; draw a face box by hand")
        face = face or self.place(base, params, references)
        if face.how != "placed":
            return face, params
        identity = params.identity
        if identity.face_box is None:
            box = tuple(round(v, 4) for v in face_to_box(face.face, base.size))
            identity = identity.model_copy(update={"face_box": box})
        return face, params.model_copy(update={"identity": identity, "face": "placed"})

    @staticmethod
    def place(base: Image.Image, params: PortraitParams, references: list[Reference]) -> FaceChoice:
        """A face where the framing prior puts the head (no face was found)."""
        box = place_face(base.size, params.composition.prompt, references)
        return FaceChoice(face_from_box(box, base.size), 0, "placed")

    @one_painting_at_a_time
    def refine(
        self,
        base: Image.Image,
        face: FaceChoice | None,
        params: PortraitParams,
        references: list[Reference],
        *,
        on_step: OnStep | None = None,
        should_stop: ShouldStop = never,
        edit_map: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> PortraitResult:
        """Stage 2 on an existing base image (stage 1's, or any picture): on `face`, else
        the face box or detected face, else a face placed by the framing prior.

        `edit_map` may change the automatic change map first (the workbench's brush).
        """
        started = time.perf_counter()
        notes = [r.note for r in references if r.note]
        # 1. The face: given, found, or placed where the framing prior says
        face, params = self.locate(base, face, params, references)
        if face.note:
            notes.append(face.note if face.how == "placed" else f"base image: {face.note}")
        # 2. Crop and change map
        p = params.identity
        box = face_crop_box(face.face, base.size, p.crop_margin, p.crop_size)
        face_crop = crop(base, box)
        change = face_change_map(face.face, box, p.mask_core, p.mask_dilation, p.mask_feather)
        if edit_map is not None:
            change = edit_map(change)
        # 3. Stage 2: identity from the references
        request = IdentityRequest(
            crop=face_crop,
            references=references,
            change_map=change,
            params=p,
            prompt=p.prompt if p.prompt is not None else params.composition.prompt,
            negative_prompt=params.composition.negative_prompt,
            class_word=p.class_word or class_word(references),
        )
        stage_two_step = in_base(on_step, base, box, change)
        with self.tier(params):
            refined = self.identity(request, on_step=stage_two_step, should_stop=should_stop)
        # 4. Paste back
        final = paste_back(base, refined.image, change, box)
        return PortraitResult(
            final=final,
            base=base,
            crop=face_crop,
            change_map=_map_image(change),
            refined_crop=refined.image,
            params=params,
            notes=notes,
            seconds={"identity": refined.seconds, "refine": time.perf_counter() - started},
            unet_batches={"identity": list(refined.unet_batches)},
        )


class FastTier:
    """A few-step LoRA kept as a separate adapter, switched on per portrait."""

    ADAPTER = "fast"

    def __init__(self, unet: torch.nn.Module) -> None:
        self.unet = unet

    @classmethod
    def load(cls, unet: torch.nn.Module, path: Path) -> FastTier:
        """Any LoRA format diffusers reads (PEFT, kohya `lora_unet_…`, …), its UNet part only."""
        from diffusers.loaders import StableDiffusionXLLoraLoaderMixin

        try:
            state, alphas = StableDiffusionXLLoraLoaderMixin.lora_state_dict(str(path))
        except Exception as exc:  # an unreadable file is one kind of problem
            raise ModelError(f"{path} is not a LoRA file diffusers can read: {exc}") from None
        unet_state = {k: v for k, v in state.items() if k.startswith("unet.")}
        unet_alphas = {k: v for k, v in (alphas or {}).items() if k.startswith("unet.")}
        if unet_state:
            unet.load_lora_adapter(
                unet_state,
                network_alphas=unet_alphas or None,
                prefix="unet",
                adapter_name=cls.ADAPTER,
            )
        if cls.ADAPTER not in getattr(unet, "peft_config", {}):
            raise ModelError(
                f"{path} holds no UNet LoRA weights that diffusers recognises "
                f"({len(state)} tensors, none for the UNet): remove it or use another file"
            )
        unet.disable_adapters()
        return cls(unet)

    @contextlib.contextmanager
    def active(self, on: bool) -> Iterator[None]:
        if not on:
            yield
            return
        self.unet.enable_adapters()
        try:
            yield
        finally:
            self.unet.disable_adapters()


def _map_image(change: np.ndarray) -> Image.Image:
    return Image.fromarray(np.rint(change * 255).astype(np.uint8), mode="L")
