"""Making a portrait: the upload page, the checks before anything is queued, and the job page
with live progress."""

from __future__ import annotations

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
from sqlalchemy import update

from core.errors import CapacityError, QueueBusy, UserInputError
from core.jobs.events import TERMINAL
from core.jobs.spec import PortraitSpec, new_job_id
from core.photos import MAX_BYTES
from core.prompt.hygiene import clean_idea
from core.prompt.styles import STYLES
from core.store.models import Portrait
from core.store.references import store_clean_reference
from photowall.checks import PhotoChecker
from photowall.portraits import find_portrait
from photowall.render import render
from photowall.services import Services
from photowall.visitor import Visitor, balance, ensure_guest, visitor
from photowall.wall import slugify, to_item

MAX_PHOTOS = 4


@dataclass
class MakeForm:
    idea: str = ""
    style: str = "none"
    restyle: bool = False
    share: bool = False  # "share on the wall": the owner's consent, never for a restyle
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
    await _not_someone_elses(services, visitor(request), job_id)
    try:
        spec = await _checked_spec(request, services, data, job_id)
        await services.queue.submit_portrait(spec)
    except UserInputError as exc:
        return await _form_error(request, services, data, str(exc), 400)
    except CapacityError as exc:
        status = 503 if isinstance(exc, QueueBusy) else 402
        return await _form_error(request, services, data, str(exc), status, job_id)
    if data.share and not data.restyle:
        await _share(services, job_id)
    return Redirect(f"/jobs/{job_id}", status_code=303)


def _kept_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return new_job_id()


async def _not_someone_elses(services: Services, who: Visitor, job_id: str) -> None:
    """A kept id (a retry after "busy") must be this visitor's own: another person's job id
    is a 404 like any id that is not yours (it used to redirect to their job page)."""
    async with services.db.session() as session:
        portrait = await session.get(Portrait, uuid.UUID(job_id))
    if portrait is None:
        return
    mine = (who.user_id is not None and portrait.user_id == who.user_id) or (
        who.guest_id is not None and portrait.session_id == who.guest_id
    )
    if not mine:
        raise NotFoundException()


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
    raw = [
        (await photo.read(MAX_BYTES + 1), f"photo {number} ({photo.filename})")
        for number, photo in enumerate(photos, 1)
    ]
    checker: PhotoChecker = request.app.state.checker
    cleaned = await checker.check(raw)
    guest = await ensure_guest(request, services.db)
    keys = [await store_clean_reference(services.db, services.media, p, guest) for p in cleaned]
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


async def _share(services: Services, job_id: str) -> None:
    async with services.db.session() as session:
        await session.execute(
            update(Portrait).where(Portrait.id == uuid.UUID(job_id)).values(shared=True)
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
    return Response(body, status_code=status, media_type="text/html")


async def _visible_job(services: Services, job_id: str) -> Portrait:
    portrait = await find_portrait(services, job_id)
    if portrait.hidden:
        raise NotFoundException()
    return portrait


@get("/jobs/{job_id:str}", name="job")
async def job_page(services: Services, job_id: str) -> Template:
    portrait = await _visible_job(services, job_id)
    status = await services.queue.status(job_id)
    return Template(
        "pages/job.html",
        context={"portrait": portrait, "status": status, "item": to_item(portrait)},
    )


@get("/jobs/{job_id:str}/events", name="job_events")
async def job_events(request: Request, services: Services, job_id: str) -> ServerSentEvent:
    await _visible_job(services, job_id)

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
            if event.type == "preview":
                html = render(request, "partials/job_preview.html", event=event)
                yield ServerSentEventMessage(event="preview", data=html.replace("\n", " "))
                continue
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
