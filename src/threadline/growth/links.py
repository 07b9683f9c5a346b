"""The addresses a marketer prints and shares: the hosted page, its QR code, and the
wa.me / m.me links that open a chat already saying JOIN (with the link's ref)."""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels import service as channels
from threadline.growth.models import GrowthLink, OptInPage

# m.me refs of a page without a tracked link; link refs have no underscore, so never clash.
MESSENGER_PAGE_REF = "join_"


def page_url(base: str, slug: str, topic: str, ref: str | None = None) -> str:
    query = f"?{urlencode({'ref': ref})}" if ref else ""
    return f"{base.rstrip('/')}/join/{slug}/{topic}{query}"


def qr_url(base: str, slug: str, topic: str, kind: str, ref: str | None = None) -> str:
    query = f"?{urlencode({'ref': ref})}" if ref else ""
    return f"{base.rstrip('/')}/join/{slug}/{topic}/qr.{kind}{query}"


def prefilled_text(page: OptInPage, ref: str | None) -> str:
    """What the chat says when it opens: exactly what the keyword engine recognises."""
    return page.keyword.upper() + (f" {ref}" if ref else "")


def whatsapp_link(display_number: str, page: OptInPage, ref: str | None) -> str | None:
    digits = re.sub(r"\D", "", display_number)
    if not digits:
        return None
    return f"https://wa.me/{digits}?text={quote(prefilled_text(page, ref))}"


def messenger_ref(page: OptInPage, link: GrowthLink | None) -> str:
    return link.ref if link is not None else MESSENGER_PAGE_REF + page.topic


async def urls(
    session: AsyncSession,
    base: str,
    slug: str,
    page: OptInPage,
    link: GrowthLink | None = None,
) -> dict[str, str | None]:
    """Every way in to the page, for one link or for the page itself."""
    ref = link.ref if link is not None else None
    whatsapp = await channels.first_of_kind(session, page.workspace_id, "whatsapp")
    messenger = await channels.first_of_kind(session, page.workspace_id, "messenger")
    number = str((whatsapp.config or {}).get("display_number") or "") if whatsapp else ""
    return {
        "page": page_url(base, slug, page.topic, ref),
        "qr_svg": qr_url(base, slug, page.topic, "svg", ref),
        "qr_png": qr_url(base, slug, page.topic, "png", ref),
        "whatsapp": whatsapp_link(number, page, ref) if number else None,
        "messenger": (
            f"https://m.me/{messenger.address}?{urlencode({'ref': messenger_ref(page, link)})}"
            if messenger is not None
            else None
        ),
    }
