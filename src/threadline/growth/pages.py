"""Opt-in pages: the workspace's public slug, pages per topic with versioned disclosure
texts, and tracked links. Every query goes through the workspace's Scope; the public side
finds the workspace by its slug first and continues inside that workspace."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.consent import service as consent
from threadline.consent.keywords import KeywordKind, classify, normalise
from threadline.growth.models import (
    GrowthLink,
    GrowthSlug,
    OptInPage,
    OptInPageVersion,
    PendingOptIn,
)
from threadline.kit.errors import Conflict, InvalidInput, NotFound
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.workspaces.models import Workspace

# The channels a web form can sign someone up on: they are addressed by a phone number or
# an email address the person types. Messenger is joined through its m.me link instead.
FORM_CHANNELS = ("whatsapp", "sms", "email")
# Where a tracked link may say a person came from (consent ledger sources).
LINK_SOURCES = ("qr", "ad", "widget", "keyword")
# Answers to "Reply YES to confirm": never opt-in keywords on their own (see keywords.py).
YES_WORDS = frozenset({"yes", "si", "sim", "oui", "ja"})
DEFAULT_CONFIRMATION = (
    "{business}: you're subscribed to {topic}. Message frequency varies. "
    "Msg & data rates may apply. Reply HELP for help, STOP to opt out."
)
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
REF = re.compile(r"^[a-z0-9]{1,32}$")
KEYWORD = re.compile(r"^[a-z][a-z0-9]{1,31}$")


def slugify(name: str) -> str:
    """ "Demo Shop" -> "demo-shop"; accents dropped, anything else becomes a dash."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64].strip("-")
    return slug or "join"


def check_slug(slug: str) -> str:
    slug = slug.strip().lower()
    if not SLUG.match(slug):
        raise InvalidInput(
            "slug must be 1-64 lower-case letters, digits and dashes (not at either end)",
            where="slug",
        )
    return slug


def check_keyword(raw: str) -> str:
    """The JOIN word, stored normalised. It must not be a word the consent engine already
    reads (STOP, START, HELP...) nor a confirmation answer, or one message would mean two
    things."""
    keyword = normalise(raw)
    if not KEYWORD.match(keyword):
        raise InvalidInput("keyword must be one word of 2-32 letters and digits", where="keyword")
    if classify(keyword).kind is not KeywordKind.NONE or keyword in YES_WORDS:
        raise InvalidInput(
            f"'{keyword.upper()}' is already a consent keyword; choose another", where="keyword"
        )
    return keyword


def check_channels(channels: list[str]) -> list[str]:
    unknown = [c for c in channels if c not in FORM_CHANNELS]
    if unknown or not channels:
        raise InvalidInput(
            f"channels must be one or more of {', '.join(FORM_CHANNELS)}", where="channels"
        )
    return [c for c in FORM_CHANNELS if c in channels]


# --- the workspace's slug -----------------------------------------------------------------------


async def slug_of(session: AsyncSession, workspace_id: str) -> str | None:
    row = await session.scalar(Scope(session, workspace_id).select(GrowthSlug))
    return row.slug if row else None


async def set_slug(
    session: AsyncSession, workspace: Workspace, wanted: str | None, now: datetime
) -> str:
    """The workspace's slug: the one asked for, else the one it has, else one made from its
    business name. Another workspace's slug is refused, never shared."""
    row = await session.scalar(Scope(session, workspace.id).select(GrowthSlug))
    if wanted is None and row is not None:
        return row.slug
    slug = check_slug(wanted) if wanted is not None else slugify(workspace.name)
    owner = await session.scalar(select(GrowthSlug).where(GrowthSlug.slug == slug))
    # Taken when its row is not this workspace's own (found through the Scope above).
    if owner is not None and (row is None or owner.id != row.id):
        raise Conflict(f"the slug '{slug}' is taken; choose another", where="slug")
    if row is None:
        session.add(
            GrowthSlug(id=new_id("gsl"), workspace_id=workspace.id, slug=slug, created_at=now)
        )
    else:
        row.slug = slug
    await session.flush()
    return slug


async def workspace_by_slug(session: AsyncSession, slug: str) -> Workspace:
    """The public entry: the slug names the workspace; everything after is scoped to it."""
    row = await session.scalar(select(GrowthSlug).where(GrowthSlug.slug == slug.lower()))
    workspace = await session.get(Workspace, row.workspace_id) if row else None
    if workspace is None:
        raise NotFound(f"no sign-up page at '{slug}'", where="slug")
    return workspace


# --- pages ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSpec:
    """A page as asked for; None keeps what a page already has."""

    topic: str | None = None
    title: str | None = None
    disclosure: str | None = None
    keyword: str | None = None
    channels: list[str] | None = None
    confirmation_text: str | None = None
    confirmation_template: str | None = None
    confirm_within_hours: int | None = None


async def list_pages(session: AsyncSession, workspace_id: str) -> list[OptInPage]:
    rows = await session.scalars(
        Scope(session, workspace_id).select(OptInPage).order_by(OptInPage.created_at, OptInPage.id)
    )
    return list(rows)


async def get_page(session: AsyncSession, workspace_id: str, page_id: str) -> OptInPage:
    return await Scope(session, workspace_id).one(OptInPage, page_id, "opt-in page", "page_id")


async def page_for_topic(session: AsyncSession, workspace_id: str, topic: str | None) -> OptInPage:
    """The page of a topic; without one, the workspace's first page (/join/<slug>)."""
    query = Scope(session, workspace_id).select(OptInPage)
    if topic is not None:
        query = query.where(OptInPage.topic == topic)
    page = await session.scalar(query.order_by(OptInPage.created_at, OptInPage.id).limit(1))
    if page is None:
        raise NotFound(
            f"no sign-up page for '{topic}'" if topic else "this workspace has no sign-up page",
            where="topic",
        )
    return page


async def page_for_keyword(
    session: AsyncSession, workspace_id: str, keyword: str
) -> OptInPage | None:
    return await session.scalar(
        Scope(session, workspace_id).select(OptInPage).where(OptInPage.keyword == keyword)
    )


async def disclosure(session: AsyncSession, page: OptInPage, version: int | None = None) -> str:
    """The words a version of the page showed (the current one by default)."""
    text = await session.scalar(
        Scope(session, page.workspace_id)
        .columns(OptInPageVersion, OptInPageVersion.disclosure_text)
        .where(
            OptInPageVersion.page_id == page.id,
            OptInPageVersion.version == (version or page.version),
        )
    )
    if text is None:
        raise NotFound(f"page {page.id} has no version {version}", where="version")
    return str(text)


def disclosure_version(page: OptInPage, version: int | None = None) -> str:
    """How the ledger names a page's disclosure: the page and its version."""
    return f"{page.id}:v{version or page.version}"


async def _check_unique(
    session: AsyncSession, workspace_id: str, page_id: str | None, topic: str, keyword: str
) -> None:
    for column, value, what in (
        (OptInPage.topic, topic, "topic"),
        (OptInPage.keyword, keyword, "keyword"),
    ):
        clash = await session.scalar(
            Scope(session, workspace_id).select(OptInPage).where(column == value)
        )
        if clash is not None and clash.id != page_id:
            raise Conflict(f"page {clash.id} already uses the {what} '{value}'", where=what)


def _add_version(page: OptInPage, text: str, now: datetime) -> OptInPageVersion:
    return OptInPageVersion(
        id=new_id("opv"),
        workspace_id=page.workspace_id,
        page_id=page.id,
        version=page.version,
        disclosure_text=text,
        created_at=now,
    )


async def create_page(
    session: AsyncSession, workspace: Workspace, spec: PageSpec, slug: str | None, now: datetime
) -> OptInPage:
    if spec.topic is None or spec.title is None or not spec.disclosure:
        raise InvalidInput("a page needs a topic, a title and its disclosure text", where="topic")
    if spec.topic not in await consent.topic_keys(session, workspace.id):
        raise InvalidInput(f"unknown topic '{spec.topic}'; define it first", where="topic")
    keyword = check_keyword(spec.keyword or "join")
    await _check_unique(session, workspace.id, None, spec.topic, keyword)
    await set_slug(session, workspace, slug, now)
    page = OptInPage(
        id=new_id("opp"),
        workspace_id=workspace.id,
        topic=spec.topic,
        title=spec.title,
        keyword=keyword,
        channels=check_channels(spec.channels or list(FORM_CHANNELS)),
        confirmation_text=spec.confirmation_text or DEFAULT_CONFIRMATION,
        confirmation_template=spec.confirmation_template,
        confirm_within_hours=spec.confirm_within_hours or 24,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(page)
    await session.flush()
    session.add(_add_version(page, spec.disclosure, now))
    await session.flush()
    return page


async def update_page(
    session: AsyncSession,
    workspace: Workspace,
    page: OptInPage,
    spec: PageSpec,
    slug: str | None,
    now: datetime,
) -> OptInPage:
    """Change a page. New disclosure words make a new version; the old ones stay on record
    for the grants (and the forms still open) that showed them."""
    keyword = check_keyword(spec.keyword) if spec.keyword is not None else page.keyword
    await _check_unique(session, workspace.id, page.id, page.topic, keyword)
    if slug is not None:
        await set_slug(session, workspace, slug, now)
    page.keyword = keyword
    if spec.title is not None:
        page.title = spec.title
    if spec.channels is not None:
        page.channels = check_channels(spec.channels)
    if spec.confirmation_text is not None:
        page.confirmation_text = spec.confirmation_text
    if spec.confirmation_template is not None:
        page.confirmation_template = spec.confirmation_template or None
    if spec.confirm_within_hours is not None:
        page.confirm_within_hours = spec.confirm_within_hours
    if spec.disclosure is not None and spec.disclosure != await disclosure(session, page):
        page.version += 1
        session.add(_add_version(page, spec.disclosure, now))
    page.updated_at = now
    await session.flush()
    return page


async def delete_page(session: AsyncSession, workspace_id: str, page: OptInPage) -> None:
    """Its versions, links and open questions go with it (the grants stay in the ledger,
    each with the words it recorded)."""
    scope = Scope(session, workspace_id)
    # Children first: SQLite enforces foreign keys but the session would not know.
    for model in (PendingOptIn, GrowthLink, OptInPageVersion):
        await session.execute(scope.delete(model).where(model.page_id == page.id))
    await session.delete(page)
    await session.flush()


# --- links ---------------------------------------------------------------------------------------


async def list_links(session: AsyncSession, workspace_id: str, page_id: str) -> list[GrowthLink]:
    rows = await session.scalars(
        Scope(session, workspace_id)
        .select(GrowthLink)
        .where(GrowthLink.page_id == page_id)
        .order_by(GrowthLink.created_at, GrowthLink.id)
    )
    return list(rows)


async def create_link(
    session: AsyncSession,
    page: OptInPage,
    *,
    ref: str,
    source: str,
    label: str,
    now: datetime,
) -> GrowthLink:
    ref = ref.strip().lower()
    if not REF.match(ref):
        raise InvalidInput("ref must be 1-32 lower-case letters and digits", where="ref")
    if source not in LINK_SOURCES:
        raise InvalidInput(f"source must be one of {', '.join(LINK_SOURCES)}", where="source")
    if await link_for_ref(session, page.workspace_id, ref) is not None:
        raise Conflict(f"the ref '{ref}' is already in use", where="ref")
    link = GrowthLink(
        id=new_id("gln"),
        workspace_id=page.workspace_id,
        page_id=page.id,
        ref=ref,
        source=source,
        label=label,
        created_at=now,
    )
    session.add(link)
    await session.flush()
    return link


async def link_for_ref(session: AsyncSession, workspace_id: str, ref: str) -> GrowthLink | None:
    return await session.scalar(
        Scope(session, workspace_id).select(GrowthLink).where(GrowthLink.ref == ref.lower())
    )
