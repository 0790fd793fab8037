"""Making a portrait: the upload page, the checks before anything is queued, the job page
with live progress, and the visitor's own portraits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from litestar.response import Redirect, Response, ServerSentEvent, Template
from litestar.response.sse import ServerSentEventMessage
from sqlalchemy import select

from core.errors import CapacityError, QueueBusy, UserInputError
from core.jobs.events import TERMINAL
from core.jobs.spec import PortraitSpec, new_job_id
from core.photos import MAX_BYTES, load_photo
from core.prompt.hygiene import clean_idea
from core.prompt.styles import STYLES
from core.store.models import Portrait
from core.store.references import store_reference
from core.store.retention import erase_session
from photowall.portraits import find_portrait
from photowall.render import render
from photowall.services import Services
from photowall.visitor import balance, ensure_guest, visitor
from photowall.wall import slugify, to_item

MAX_PHOTOS = 4


@dataclass
class MakeForm:
    idea: str = ""
    style: str = "none"
    restyle: bool = False
    photos: list[UploadFile] = field(default_factory=list)
    job_id: str = ""  # kept across a retry after "busy", so the retry cannot pay twice


@get("/make", name="make")
async def make_page(request: Request, services: Services) -> Template:
    who = visitor(request)
    return Template(
        "pages/make.html",
        context={"tokens": await balance(services.db, who), "styles": list(STYLES), "error": None},
    )


@post("/make", name="make_submit", request_max_body_size=MAX_PHOTOS * MAX_BYTES + 2**20)
async def make_submit(
    request: Request,
    services: Services,
    data: Annotated[MakeForm, Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Response:
    job_id = _kept_id(data.job_id)
    try:
        spec = await _checked_spec(request, services, data, job_id)
        await services.queue.submit_portrait(spec)
    except UserInputError as exc:
        return await _form_error(request, services, data, str(exc), 400)
    except CapacityError as exc:
        status = 503 if isinstance(exc, QueueBusy) else 402
        return await _form_error(request, services, data, str(exc), status, job_id)
    return Redirect(f"/jobs/{job_id}", status_code=303)


def _kept_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return new_job_id()


async def _checked_spec(
    request: Request, services: Services, data: MakeForm, job_id: str
) -> PortraitSpec:
    """Everything is checked before anything is stored or queued."""
    photos = [p for p in data.photos if p.filename]
    if not 1 <= len(photos) <= MAX_PHOTOS:
        raise UserInputError(f"choose 1 to {MAX_PHOTOS} photos of your face ({len(photos)} given)")
    idea = clean_idea(data.idea)
    if data.style not in STYLES:
        raise UserInputError(f"unknown style {data.style!r}")
    raw = []
    for number, photo in enumerate(photos, 1):
        content = await photo.read(MAX_BYTES + 1)
        name = f"photo {number} ({photo.filename})"
        image = load_photo(content, name)
        await asyncio.to_thread(_require_face, services, image, name)
        raw.append((content, name))
    guest = await ensure_guest(request, services.db)
    keys = [
        await store_reference(services.db, services.media, content, name, guest)
        for content, name in raw
    ]
    who = visitor(request)
    return PortraitSpec(
        job_id=job_id,
        references=keys,
        idea=idea,
        style=data.style,
        origin="web",
        base=keys[0] if data.restyle else None,
        seed=uuid.uuid4().int % 2**31,
        session_id=None if who.user_id else str(guest),
        user_id=str(who.user_id) if who.user_id else None,
    )


def _require_face(services: Services, image, name: str) -> None:
    from core.diffusion.faces import choose_face

    analyzer = services.face_analyzer
    if choose_face(analyzer.detect(image), analyzer.min_score) is None:
        raise UserInputError(
            f"no face found in {name}; use a photo where the face is clearly visible"
        )


async def _form_error(
    request: Request,
    services: Services,
    data: MakeForm,
    message: str,
    status: int,
    job_id: str | None = None,
) -> Response:
    body = render(
        request,
        "pages/make.html",
        tokens=await balance(services.db, visitor(request)),
        styles=list(STYLES),
        error=message,
        idea=data.idea,
        style=data.style,
        job_id=job_id,
    )
    return Response(body, status_code=status, media_type="text/html; charset=utf-8")


@get("/jobs/{job_id:str}", name="job")
async def job_page(services: Services, job_id: str) -> Template:
    portrait = await find_portrait(services, job_id)
    status = await services.queue.status(job_id)
    return Template(
        "pages/job.html",
        context={"portrait": portrait, "status": status, "item": to_item(portrait)},
    )


@get("/jobs/{job_id:str}/events", name="job_events")
async def job_events(request: Request, services: Services, job_id: str) -> ServerSentEvent:
    await find_portrait(services, job_id)

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        async for event in services.queue.events(job_id, timeout=1800):
            if event.type in TERMINAL:
                portrait = await find_portrait(services, job_id)
                html = render(
                    request,
                    "partials/job_result.html",
                    portrait=portrait,
                    item=to_item(portrait),
                    event=event,
                )
                yield ServerSentEventMessage(event="finished", data=html.replace("\n", " "))
                return
            html = render(request, "partials/job_progress.html", event=event)
            yield ServerSentEventMessage(event="progress", data=html.replace("\n", " "))

    return ServerSentEvent(stream())


@get("/p/{portrait_id:str}/{slug:str}", name="portrait")
async def portrait_page(services: Services, portrait_id: str, slug: str) -> Response:
    portrait = await find_portrait(services, portrait_id)
    if portrait.hidden or portrait.status != "done":
        raise NotFoundException()
    if slug != slugify(portrait.idea):
        return Redirect(f"/p/{portrait.id}/{slugify(portrait.idea)}", status_code=301)
    return Template(
        "pages/portrait.html", context={"portrait": portrait, "item": to_item(portrait)}
    )


@get("/me", name="mine")
async def my_portraits(request: Request, services: Services) -> Template:
    who = visitor(request)
    owner = []
    if who.guest_id:
        owner.append(Portrait.session_id == who.guest_id)
    if who.user_id:
        owner.append(Portrait.user_id == who.user_id)
    portraits = []
    if owner:
        from sqlalchemy import or_

        async with services.db.session() as session:
            portraits = (
                await session.scalars(
                    select(Portrait).where(or_(*owner)).order_by(Portrait.id.desc()).limit(100)
                )
            ).all()
    return Template(
        "pages/mine.html",
        context={
            "portraits": [(p, to_item(p)) for p in portraits],
            "tokens": await balance(services.db, who),
        },
    )


@post("/me/delete", name="erase")
async def erase_mine(request: Request, services: Services) -> Redirect:
    who = visitor(request)
    if who.guest_id is not None:
        await erase_session(services.db, services.media, who.guest_id, who.user_id)
        from photowall.wall import Wall

        await Wall(services.db, services.redis).bump()
    return Redirect("/me", status_code=303)
