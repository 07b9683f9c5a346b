"""Neutral content → an email draft: the JSON the dispatcher hands to the client, which
composes the MIME message from it (`mime.compose`) with the account's settings.

The draft:

    {"to": "ana@example.net", "subject": "…", "text": "…", "html": "…",
     "in_reply_to": "<id>" | None, "references": ["<id>"], "marketing": False,
     "message_ref": "msg_…" | None, "attachments": [{"url", "filename", "kind"}]}

`text` is the plain part and `html` the HTML part's body (compose wraps it in a document and
adds the marketing footer); message ids are without angle brackets.

Email shows no buttons. Buttons, lists and cards that are a choice become numbered lines
in both parts, and the answer is read back from the reply's words by `choices.match`: the
number ("2"), or the title ("Blue"), case and accents ignored. The quoted original below a
reply is stripped before that (`webhooks.reply_text`). Links (a CTA, a card's buttons, a
location) are links. A platform media id means nothing to email: media go by URL, and the
client downloads and attaches them."""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from threadline.channels import messages as m
from threadline.channels import products
from threadline.channels.adapter import Envelope, RenderError
from threadline.channels.email.declaration import EMAIL, TEXT_MAX
from threadline.channels.text import contact_blocks

__all__ = ["MAPS_URL", "SUBJECT_MAX", "RenderError", "render"]

MAPS_URL = "https://www.google.com/maps/search/?api=1&query={latitude},{longitude}"
# RFC 5322 asks lines of at most 78 characters; a longer subject is cut at a word.
SUBJECT_MAX = 78
_URL = re.compile(r"https?://[^\s<>\"]+")
_TRAILING = ".,;:!?)]}'"
_RE = re.compile(r"^\s*re\s*:", re.IGNORECASE)
_MEDIA_KINDS = ("image", "video", "audio", "document")


def render(content: m.Content, envelope: Envelope) -> dict[str, Any]:
    if isinstance(content, m.TimePicker):
        content = content.as_list()  # the slots as numbered choices
    if isinstance(content, m.ProductMessage | m.ProductListMessage):
        content = products.shown(content, EMAIL.capabilities)  # numbered, prices and links
    text, html_part, attachments = _body(content)
    if len(text) > TEXT_MAX:
        raise RenderError("text", f"is {len(text)} characters; email allows {TEXT_MAX}")
    fallback = attachments[0]["filename"] if attachments else ""
    return {
        "to": envelope.to,
        "subject": subject_for(envelope, text, fallback),
        "text": text,
        "html": html_part,
        "in_reply_to": envelope.reply_to,
        "references": [envelope.reply_to] if envelope.reply_to else [],
        "marketing": envelope.purpose == "marketing",
        "message_ref": envelope.callback_data,
        "attachments": attachments,
    }


def subject_for(envelope: Envelope, text: str, fallback: str = "") -> str:
    """The thread's subject ("Re: …" when answering), else the text's first line."""
    given = _one_line(envelope.subject or "")
    if given:
        if envelope.reply_to and not _RE.match(given):
            return f"Re: {given}"
        return given
    first = next((line for line in text.splitlines() if line.strip()), fallback)
    return _shorten(_one_line(first), SUBJECT_MAX)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _shorten(text: str, maximum: int) -> str:
    if len(text) <= maximum:
        return text
    cut = text[: maximum - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


# -- the body, in both forms ---------------------------------------------------------------
def _body(content: m.Content) -> tuple[str, str, list[dict[str, Any]]]:
    if isinstance(content, m.Text):
        _required("text.body", content.body)
        return content.body, _paragraphs_html(content.body), []
    if isinstance(content, m.Media):
        return _media(content)
    if isinstance(content, m.Buttons):
        return _buttons(content)
    if isinstance(content, m.ListMessage):
        return _list(content)
    if isinstance(content, m.CtaUrl):
        return _cta(content)
    if isinstance(content, m.Cards):
        return _cards(content)
    if isinstance(content, m.Location):
        return _location(content)
    if isinstance(content, m.ContactCards):
        return _contacts(content)
    if isinstance(content, m.LocationRequest):
        # No pin to ask for: the question alone; the person writes their address.
        _required("location_request.body", content.body)
        return content.body, _paragraphs_html(content.body), []
    if isinstance(content, m.Template):
        raise RenderError("type", "email has no platform templates: send the text itself")
    if isinstance(content, m.Reaction):
        raise RenderError("type", "email cannot react to a message")
    if isinstance(content, m.Typing):
        raise RenderError("type", "email shows no typing indicator")
    raise RenderError("type", "email has no read receipts to send")


def _required(where: str, value: str | None) -> None:
    if not value or not value.strip():
        raise RenderError(where, "must not be empty")


def _join(*parts: str | None) -> str:
    return "\n\n".join(part for part in parts if part)


def _join_html(*parts: str | None) -> str:
    return "\n".join(part for part in parts if part)


def _inline(text: str) -> str:
    """Escaped text with its http(s) URLs as links and its line breaks kept."""
    out: list[str] = []
    last = 0
    for found in _URL.finditer(text):
        url = found.group(0).rstrip(_TRAILING)
        start, end = found.start(), found.start() + len(url)
        out.append(html.escape(text[last:start], quote=False))
        out.append(_link(url, url))
        last = end
    out.append(html.escape(text[last:], quote=False))
    return "<br>\n".join("".join(out).split("\n"))


def _link(url: str, label: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(label, quote=False)}</a>'


def _paragraphs_html(text: str | None, *, tag: str = "p") -> str:
    if not text:
        return ""
    blocks = [block.strip("\n") for block in re.split(r"\n\s*\n", text)]
    return "\n".join(f"<{tag}>{_inline(block)}</{tag}>" for block in blocks if block.strip())


def _header_html(header: str | None) -> str:
    return f"<p><strong>{_inline(header)}</strong></p>" if header else ""


def _footer_html(footer: str | None) -> str:
    return f"<p><small>{_inline(footer)}</small></p>" if footer else ""


def reply_with(count: int) -> str:
    """How to answer numbered choices: "Reply with 1, 2 or 3." (a range beyond five)."""
    if count == 1:
        return "Reply with 1."
    if count <= 5:
        numbers = [str(n) for n in range(1, count + 1)]
        return f"Reply with {', '.join(numbers[:-1])} or {numbers[-1]}."
    return f"Reply with a number from 1 to {count}."


def _numbered(titles: Sequence[str], start: int = 1) -> str:
    return "\n".join(f"{n}. {title}" for n, title in enumerate(titles, start=start))


def _ordered_html(items: Sequence[str], start: int = 1) -> str:
    """An <ol> of already-escaped items, numbered from `start` (as the text part is)."""
    opening = "<ol>" if start == 1 else f'<ol start="{start}">'
    return opening + "".join(f"<li>{item}</li>" for item in items) + "</ol>"


# -- each kind -----------------------------------------------------------------------------
def _media(media: m.Media) -> tuple[str, str, list[dict[str, Any]]]:
    where = f"media.{media.kind}"
    if media.kind not in _MEDIA_KINDS:
        raise RenderError(f"{where}.kind", f"email cannot send a {media.kind}")
    if media.media_id is not None:
        raise RenderError(
            f"{where}.media_id", "email cannot attach a platform media id: give a link (URL)"
        )
    link = media.link or ""
    if not link.startswith(("https://", "http://")):
        raise RenderError(f"{where}.link", "must be an http(s) URL to attach")
    filename = media.filename or posixpath.basename(urlsplit(link).path) or media.kind
    attachment = {"url": link, "filename": filename, "kind": media.kind}
    caption = media.caption or ""
    return caption, _paragraphs_html(caption), [attachment]


def _buttons(content: m.Buttons) -> tuple[str, str, list[dict[str, Any]]]:
    _required("buttons.body", content.body)
    if not content.buttons:
        raise RenderError("buttons.buttons", "give at least one choice")
    titles = [button.title for button in content.buttons]
    for i, title in enumerate(titles):
        _required(f"buttons.buttons[{i}].title", title)
    how = reply_with(len(titles))
    text = _join(content.header, content.body, _numbered(titles), how, content.footer)
    page = _join_html(
        _header_html(content.header),
        _paragraphs_html(content.body),
        _ordered_html([_inline(title) for title in titles]),
        f"<p>{how}</p>",
        _footer_html(content.footer),
    )
    return text, page, []


def _list(content: m.ListMessage) -> tuple[str, str, list[dict[str, Any]]]:
    _required("list.body", content.body)
    rows = [row for section in content.sections for row in section.rows]
    if not rows:
        raise RenderError("list.sections", "give at least one row")
    text_blocks: list[str] = []
    html_blocks: list[str] = []
    number = 1
    for i, section in enumerate(content.sections):
        for j, row in enumerate(section.rows):
            _required(f"list.sections[{i}].rows[{j}].title", row.title)
        lines = [
            f"{row.title} — {row.description}" if row.description else row.title
            for row in section.rows
        ]
        text_blocks.append(_join(section.title, _numbered(lines, number)))
        items = [
            _inline(row.title)
            + (f"<br>\n<small>{_inline(row.description)}</small>" if row.description else "")
            for row in section.rows
        ]
        html_blocks.append(_join_html(_header_html(section.title), _ordered_html(items, number)))
        number += len(section.rows)
    how = reply_with(len(rows))
    text = _join(content.header, content.body, *text_blocks, how, content.footer)
    page = _join_html(
        _header_html(content.header),
        _paragraphs_html(content.body),
        *html_blocks,
        f"<p>{how}</p>",
        _footer_html(content.footer),
    )
    return text, page, []


def _http(where: str, url: str | None) -> str:
    if not url or not url.startswith(("https://", "http://")):
        raise RenderError(where, "must be an http(s) URL")
    return url


def _cta(content: m.CtaUrl) -> tuple[str, str, list[dict[str, Any]]]:
    _required("cta_url.body", content.body)
    _required("cta_url.display_text", content.display_text)
    url = _http("cta_url.url", content.url)
    text = _join(content.header, content.body, f"{content.display_text}: {url}", content.footer)
    page = _join_html(
        _header_html(content.header),
        _paragraphs_html(content.body),
        f"<p>{_link(url, content.display_text)}</p>",
        _footer_html(content.footer),
    )
    return text, page, []


def _cards(content: m.Cards) -> tuple[str, str, list[dict[str, Any]]]:
    """Each card numbered, with its subtitle, image and links. A card's postback is
    answered by the card's number, so a card may carry one at most."""
    answerable = 0
    text_blocks: list[str] = []
    html_blocks: list[str] = []
    for n, card in enumerate(content.cards, start=1):
        where = f"cards[{n - 1}]"
        _required(f"{where}.title", card.title)
        for j, button in enumerate(card.buttons):
            if (button.id is None) == (button.url is None):
                raise RenderError(f"{where}.buttons[{j}]", "give exactly one of id or url")
        if sum(1 for button in card.buttons if button.id) > 1:
            raise RenderError(f"{where}.buttons", "email can take one answer per card")
        answerable += any(button.id for button in card.buttons)
        links = [
            (button.title, _http(f"{where}.buttons[{j}].url", button.url))
            for j, button in enumerate(card.buttons)
            if button.url
        ]
        url = _http(f"{where}.url", card.url) if card.url else None
        image = _http(f"{where}.image_url", card.image_url) if card.image_url else None
        lines: Iterable[str | None] = (
            f"{n}. {card.title}",
            card.subtitle,
            url,
            *(f"{title}: {link}" for title, link in links),
        )
        text_blocks.append("\n".join(line for line in lines if line))
        heading = f"{n}. {card.title}"
        title_html = _link(url, heading) if url else html.escape(heading, quote=False)
        subtitle = f"<br>\n{_inline(card.subtitle)}" if card.subtitle else ""
        html_blocks.append(
            _join_html(
                f"<p><strong>{title_html}</strong>{subtitle}</p>",
                (
                    f'<p><img src="{html.escape(image, quote=True)}" '
                    f'alt="{html.escape(card.title, quote=True)}" style="max-width:100%"></p>'
                    if image
                    else None
                ),
                *(f"<p>{_link(link, title)}</p>" for title, link in links),
            )
        )
    how = reply_with(len(content.cards)) if answerable else None
    text = _join(content.body, *text_blocks, how)
    page = _join_html(
        _paragraphs_html(content.body), *html_blocks, f"<p>{how}</p>" if how else None
    )
    return text, page, []


def _location(location: m.Location) -> tuple[str, str, list[dict[str, Any]]]:
    link = MAPS_URL.format(latitude=location.latitude, longitude=location.longitude)
    text = "\n".join(line for line in (location.name, location.address, link) if line)
    parts = [
        f"<strong>{_inline(location.name)}</strong>" if location.name else "",
        _inline(location.address) if location.address else "",
        _link(link, "View on map"),
    ]
    return text, "<p>" + "<br>\n".join(part for part in parts if part) + "</p>", []


def _contacts(content: m.ContactCards) -> tuple[str, str, list[dict[str, Any]]]:
    blocks = contact_blocks(content.contacts)
    text = "\n\n".join("\n".join(block) for block in blocks)
    page = "\n".join(
        "<p>" + "<br>\n".join(html.escape(line, quote=False) for line in block) + "</p>"
        for block in blocks
    )
    return text, page, []
