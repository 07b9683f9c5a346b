"""The public side, no API key: GET /join/<slug>[/<topic>] shows the sign-up form, POST
sends it, and /qr.svg /qr.png draw the page's QR code. The slug finds the workspace;
every lookup after that is inside it."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from threadline.api.deps import Now, Session, app_state
from threadline.growth import html, links, optin_form, pages, qr, tokens
from threadline.growth.models import OptInPage
from threadline.kit.errors import Conflict, InvalidInput, NotFound, ThreadlineError
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of

router = APIRouter(tags=["growth"])
MAX_BODY = 16_384
Ref = Annotated[str | None, Query(max_length=32, description="a tracked link's ref")]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _page(session: Session, slug: str, topic: str | None) -> tuple[Workspace, OptInPage]:
    workspace = await pages.workspace_by_slug(session, slug)
    return workspace, await pages.page_for_topic(session, workspace.id, topic)


def _not_found(exc: NotFound) -> HTMLResponse:
    return HTMLResponse(html.problem_page("Page not found", exc.message), status_code=404)


async def _qr(
    session: Session,
    request: Request,
    slug: str,
    topic: str | None,
    kind: str,
    ref: str | None,
    to: str,
) -> Response:
    if kind not in qr.MEDIA_TYPES:
        return Response("QR codes come as qr.svg or qr.png", status_code=404)
    try:
        workspace, page = await _page(session, slug, topic)
    except NotFound as exc:
        return _not_found(exc)
    link = await pages.link_for_ref(session, workspace.id, ref) if ref else None
    canonical = await pages.slug_of(session, workspace.id) or slug
    found = await links.urls(session, _base(request), canonical, page, link)
    target = found.get(to) if to in ("whatsapp", "messenger") else found["page"]
    if target is None:
        return Response(f"this workspace has no {to} channel to link to", status_code=404)
    body = qr.qr_code(target, "svg" if kind == "svg" else "png")
    # A code never changes for the same address; a poster printer may cache it.
    headers = {"Cache-Control": "public, max-age=3600"}
    return Response(body, media_type=qr.MEDIA_TYPES[kind], headers=headers)


QrTo = Annotated[
    str, Query(pattern="^(page|whatsapp|messenger)$", description="what the code opens")
]


@router.get("/join/{slug}/qr.{kind}", response_model=None)
async def workspace_qr(
    slug: str, kind: str, request: Request, session: Session, ref: Ref = None, to: QrTo = "page"
) -> Response:
    """The QR code of the workspace's first page (SVG or PNG)."""
    return await _qr(session, request, slug, None, kind, ref, to)


@router.get("/join/{slug}/{topic}/qr.{kind}", response_model=None)
async def topic_qr(
    slug: str,
    topic: str,
    kind: str,
    request: Request,
    session: Session,
    ref: Ref = None,
    to: QrTo = "page",
) -> Response:
    """The QR code of a topic's page (SVG or PNG)."""
    return await _qr(session, request, slug, topic, kind, ref, to)


async def _form(
    request: Request,
    session: Session,
    now: Now,
    slug: str,
    topic: str | None,
    ref: str | None,
    *,
    entered: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        workspace, page = await _page(session, slug, topic)
    except NotFound as exc:
        return _not_found(exc)
    canonical = await pages.slug_of(session, workspace.id) or slug
    nonce = request.cookies.get(tokens.COOKIE) or tokens.new_nonce()
    secret = app_state(request).settings.secret_key.get_secret_value()
    token = tokens.issue(
        secret, page_id=page.id, version=page.version, ref=ref, nonce=nonce, now=now
    )
    found = await links.urls(session, _base(request), canonical, page, None)
    settings = settings_of(workspace)
    page_view = html.FormView(
        business=settings.business_name or workspace.name,
        title=page.title,
        disclosure=await pages.disclosure(session, page),
        channels=page.channels,
        token=token,
        qr_svg=links.qr_url(_base(request), canonical, page.topic, "svg", ref),
        whatsapp_link=found["whatsapp"] if "whatsapp" in page.channels else None,
    )
    page_view = dataclasses.replace(page_view, **(entered or {}))
    response = HTMLResponse(html.form_page(page_view), status_code=status_code)
    response.set_cookie(
        tokens.COOKIE,
        nonce,
        max_age=int(tokens.LIFETIME.total_seconds()),
        path="/join",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    # The form must not be framed by another site (clickjacking a consent box).
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response


@router.get("/join/{slug}", response_class=HTMLResponse)
async def workspace_page(
    slug: str, request: Request, session: Session, now: Now, ref: Ref = None
) -> HTMLResponse:
    """The sign-up form of the workspace's first page."""
    return await _form(request, session, now, slug, None, ref)


@router.get("/join/{slug}/{topic}", response_class=HTMLResponse)
async def topic_page(
    slug: str, topic: str, request: Request, session: Session, now: Now, ref: Ref = None
) -> HTMLResponse:
    """The sign-up form of one topic."""
    return await _form(request, session, now, slug, topic, ref)


async def _submit(
    request: Request, session: Session, now: Now, slug: str, topic: str | None
) -> HTMLResponse:
    try:
        workspace, page = await _page(session, slug, topic)
    except NotFound as exc:
        return _not_found(exc)
    body = await request.body()
    if len(body) > MAX_BODY:
        return HTMLResponse(html.problem_page("Too large", "the form is too large"), 413)
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    secret = app_state(request).settings.secret_key.get_secret_value()
    try:
        token = tokens.verify(
            secret, optin_form.field_value(fields, "token"), request.cookies.get(tokens.COOKIE), now
        )
        if token.page_id != page.id:
            raise InvalidInput("this form belongs to another page; reload it", where="token")
    except InvalidInput as exc:
        return HTMLResponse(html.problem_page("Please reload the page", exc.message), 403)
    entered: dict[str, Any] = {
        "phone": optin_form.field_value(fields, "phone"),
        "email": optin_form.field_value(fields, "email"),
        "chosen": fields.get("channel", []),
    }
    client = request.client.host if request.client else None
    visit = optin_form.Visit(
        ip=client,
        user_agent=request.headers.get("user-agent"),
        page_url=str(request.url),
        forwarded_for=request.headers.get("x-forwarded-for"),
    )
    try:
        form = optin_form.read_form(fields, page)
        signup = await optin_form.submit(session, workspace, page, form, token, visit, now)
    except InvalidInput as exc:
        await session.rollback()  # nothing half-written: the whole post or none of it
        problems = exc.details.get("problems") or [
            {"where": exc.where or "", "message": exc.message}
        ]
        return await _form(
            request,
            session,
            now,
            slug,
            topic,
            token.ref,
            entered={**entered, "problems": problems},
            status_code=422,
        )
    except ThreadlineError as exc:
        await session.rollback()
        # A Conflict is an address of another contact's or one erased at the person's
        # request; saying which would tell a stranger who is on the list.
        message = (
            "we cannot sign up this address here; please contact us directly"
            if isinstance(exc, Conflict)
            else exc.message
        )
        return HTMLResponse(
            html.problem_page("We could not sign you up", message), status_code=exc.status_code
        )
    settings = settings_of(workspace)
    return HTMLResponse(
        html.done_page(settings.business_name or workspace.name, page.title, signup.confirmations)
    )


@router.post("/join/{slug}", response_class=HTMLResponse)
async def submit_workspace_page(
    slug: str, request: Request, session: Session, now: Now
) -> HTMLResponse:
    return await _submit(request, session, now, slug, None)


@router.post("/join/{slug}/{topic}", response_class=HTMLResponse)
async def submit_topic_page(
    slug: str, topic: str, request: Request, session: Session, now: Now
) -> HTMLResponse:
    return await _submit(request, session, now, slug, topic)
