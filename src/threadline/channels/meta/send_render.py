"""Neutral content → the exact Send API body (`POST /{v}/me/messages`) for Messenger and
Instagram (platform reference §2.1, §3).

Limits come from the declared capabilities, so the one renderer serves both types; only Send
API facts that no capability names are constants here. Every limit is checked before any HTTP
call, and what a channel cannot show degrades to the next form down, each form used only when
everything fits it: button template (≤ buttons_max) → quick replies (≤ quick_replies_max) →
numbered text. Titles too long for buttons or quick replies therefore become numbered text,
which carries them whole: the platform would cut them at 20 characters and two choices could
read the same.

Deliberate choices:
- A media caption cannot ride on an attachment: refused (`<kind>.caption`), so the caller
  sends it as its own Text rather than us losing it or sending two messages from one.
- Documents go as `file`; their filename is not carried (the platform takes it from the URL).
- `reply_to` goes on the message as `{"mid": ...}`, the shape replies arrive in (§3); the
  reference documents it only inbound, so this is the least certain field here.
- Sender actions (typing, mark seen, reactions) take only recipient + action: no
  messaging_type, metadata or reply_to. `mark_seen` marks the whole thread, so
  MarkRead.message_id is not sent.
- Cards.body is said only where cards become text; a carousel has no place for it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from threadline.channels import messages as m
from threadline.channels import products
from threadline.channels.adapter import Envelope, RenderError
from threadline.channels.rules import Basis, Outreach
from threadline.channels.text import (
    contacts_text,
    location_text,
    numbered_choices,
    paragraphs,
)
from threadline.channels.types import ChannelType

# Send API facts the capabilities do not name (the same on Messenger and Instagram).
BUTTON_TEMPLATE_TEXT_MAX = 640
CARD_SUBTITLE_MAX = 80
PAYLOAD_MAX = 1000  # postback and quick-reply payloads (reference: commonly cited)
METADATA_MAX = 1000
# The `react` sender action knows a single reaction, "love"; these emoji mean it.
LOVE = frozenset({"❤️", "❤", "love"})

__all__ = ["RenderError", "render"]


def render(content: m.Content, envelope: Envelope, declared: ChannelType) -> dict[str, Any]:
    """The JSON body for POST /{v}/me/messages; RenderError for what the channel cannot carry."""
    renderer = _Renderer(declared)
    if isinstance(content, m.TimePicker):
        content = content.as_list()  # no time picker here: the slots as choices
    if isinstance(content, m.ProductMessage | m.ProductListMessage):
        content = products.shown(content, declared.capabilities)  # a carousel, or text
    if isinstance(content, m.Typing | m.MarkRead | m.Reaction):
        recipient = _action_recipient(envelope, declared)
        return {"recipient": recipient, **renderer.sender_action(content)}
    addressing = _addressing(envelope, declared)  # refuse a wrong basis before the content
    message = renderer.message(content)
    if envelope.callback_data is not None:
        # Messenger echoes `metadata` back on message_echoes: our message id travels there.
        renderer.limit("metadata", envelope.callback_data, METADATA_MAX)
        message["metadata"] = envelope.callback_data
    if envelope.reply_to and envelope.basis is not Basis.PRIVATE_REPLY:
        message["reply_to"] = {"mid": envelope.reply_to}
    return {**addressing, "message": message}


def _addressing(envelope: Envelope, declared: ChannelType) -> dict[str, Any]:
    """recipient + messaging_type (and tag): the basis the policy chose, as Meta spells it."""
    basis = envelope.basis
    if basis is Basis.SUBSCRIPTION:
        if Outreach.SUBSCRIPTION not in declared.rules.outreach:
            raise RenderError("basis", f"{declared.title} has no marketing subscriptions")
        if not envelope.subscription_token:
            raise RenderError("subscription_token", "a subscription send needs the person's token")
        # The token addresses the person; marketing messages take no messaging_type.
        return {"recipient": {"notification_messages_token": envelope.subscription_token}}
    if basis is Basis.PRIVATE_REPLY:
        return _private_reply(envelope, declared)
    recipient = {"id": envelope.to}
    if basis in (Basis.SERVICE_WINDOW, Basis.AD_WINDOW):
        kind = "RESPONSE" if envelope.purpose == "service" else "UPDATE"
        return {"recipient": recipient, "messaging_type": kind}
    if basis is Basis.HUMAN_AGENT and declared.rules.human_agent_window is not None:
        return {"recipient": recipient, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    raise RenderError("basis", f"{declared.title} cannot send on the {basis.value} basis")


def _private_reply(envelope: Envelope, declared: ChannelType) -> dict[str, Any]:
    """The answer to a comment is addressed to the comment, which the platform turns into a
    message to its author; it takes no messaging_type."""
    if declared.rules.private_reply_window is None:
        raise RenderError("basis", f"{declared.title} has no private replies to comments")
    if not envelope.reply_to:
        raise RenderError("reply_to", "a private reply names the comment it answers")
    return {"recipient": {"comment_id": envelope.reply_to}}


def _action_recipient(envelope: Envelope, declared: ChannelType) -> dict[str, str]:
    if envelope.basis in (Basis.SUBSCRIPTION, Basis.PRIVATE_REPLY):
        raise RenderError("basis", "sender actions go only in an open conversation")
    _addressing(envelope, declared)  # the same bases are refused as for messages
    return {"id": envelope.to}


@dataclass(frozen=True, slots=True)
class _Option:
    where: str  # e.g. "buttons[1]": where an error about this choice points
    id: str
    title: str
    numbered_title: str  # how it reads as numbered text (a row keeps its description)


class _Renderer:
    def __init__(self, declared: ChannelType) -> None:
        self.cap = declared.capabilities
        self.title = declared.title

    def limit(
        self, where: str, value: str | None, maximum: int, *, required: bool = False, form: str = ""
    ) -> None:
        if not value:
            if required:
                raise RenderError(where, "must not be empty")
            return
        if len(value) > maximum:
            raise RenderError(
                where, f"{form}is {len(value)} characters; {self.title} allows {maximum}"
            )

    def http(self, where: str, url: str) -> str:
        if not url.startswith(("https://", "http://")):
            raise RenderError(where, "must be an http(s) URL")
        return url

    def text(self, where: str, text: str, *, form: str = "") -> dict[str, Any]:
        self.limit(where, text, self.cap.text_max, required=True, form=form)
        return {"text": text}

    # -- messages -------------------------------------------------------------------------
    def message(self, content: m.Content) -> dict[str, Any]:
        if isinstance(content, m.Text):
            return self.text("text.body", content.body)
        if isinstance(content, m.Media):
            return self.media(content)
        if isinstance(content, m.Location):
            # No pin on Meta messaging: say where it is, with a link that opens a map.
            return self.text("location", location_text(content), form="as text ")
        if isinstance(content, m.LocationRequest):
            # The location quick reply was removed: the question alone, answered in words.
            return self.text("body", content.body)
        if isinstance(content, m.ContactCards):
            return self.text("contacts", contacts_text(content.contacts), form="as text ")
        if isinstance(content, m.Buttons):
            return self.buttons(content)
        if isinstance(content, m.ListMessage):
            return self.list_message(content)
        if isinstance(content, m.CtaUrl):
            return self.cta_url(content)
        if isinstance(content, m.Cards):
            return self.cards(content)
        if isinstance(content, m.Template):
            raise RenderError("template", f"{self.title} has no WhatsApp templates")
        raise RenderError("type", f"{self.title} cannot send {type(content).__name__}")

    def media(self, media: m.Media) -> dict[str, Any]:
        kind = media.kind
        if kind not in self.cap.media:
            raise RenderError(kind, f"{self.title} cannot send {kind} attachments")
        if media.caption:
            raise RenderError(
                f"{kind}.caption", f"{self.title} attachments carry no caption; send it as text"
            )
        if not media.link:
            # media_id is a WhatsApp upload: Meta messaging fetches attachments by URL.
            raise RenderError(f"{kind}.link", f"{self.title} attachments need a link")
        payload = {"url": self.http(f"{kind}.link", media.link), "is_reusable": True}
        attachment_type = "file" if kind == "document" else kind
        return {"attachment": {"type": attachment_type, "payload": payload}}

    def buttons(self, content: m.Buttons) -> dict[str, Any]:
        if not content.buttons:
            raise RenderError("buttons", "must not be empty")
        options = [
            self.option(f"buttons[{i}]", b.id, b.title) for i, b in enumerate(content.buttons)
        ]
        fits = all(len(o.title) <= self.cap.button_title_max for o in options)
        if len(options) <= self.cap.buttons_max and fits:
            buttons = [{"type": "postback", "title": o.title, "payload": o.id} for o in options]
            return self.button_template(content.header, content.body, content.footer, buttons)
        return self.choices(content.header, content.body, content.footer, options)

    def list_message(self, content: m.ListMessage) -> dict[str, Any]:
        options = [
            self.option(f"sections[{s}].rows[{r}]", row.id, row.title, row.description)
            for s, section in enumerate(content.sections)
            for r, row in enumerate(section.rows)
        ]
        if not options:
            raise RenderError("sections", "must have at least one row")
        # The list's button label has no place: quick replies show the rows themselves.
        return self.choices(content.header, content.body, content.footer, options)

    def option(
        self, where: str, payload: str, title: str, description: str | None = None
    ) -> _Option:
        self.limit(f"{where}.id", payload, PAYLOAD_MAX, required=True)
        if not title:
            raise RenderError(f"{where}.title", "must not be empty")
        numbered = f"{title} — {description}" if description else title
        return _Option(where, payload, title, numbered)

    def choices(
        self, header: str | None, body: str, footer: str | None, options: Sequence[_Option]
    ) -> dict[str, Any]:
        """Quick replies when they all fit, else numbered text."""
        self.limit("body", body, self.cap.text_max, required=True)
        fits = all(len(o.title) <= self.cap.quick_reply_title_max for o in options)
        if len(options) <= self.cap.quick_replies_max and fits:
            message = self.text("body", paragraphs(header, body, footer))
            message["quick_replies"] = [
                {"content_type": "text", "title": o.title, "payload": o.id} for o in options
            ]
            return message
        titles = [o.numbered_title for o in options]
        text = numbered_choices(body, titles, header=header, footer=footer)
        return self.text("body", text, form="as numbered text ")

    def button_template(
        self, header: str | None, body: str, footer: str | None, buttons: list[dict[str, Any]]
    ) -> dict[str, Any]:
        self.limit("body", body, BUTTON_TEMPLATE_TEXT_MAX, required=True)
        text = paragraphs(header, body, footer)
        self.limit("body", text, BUTTON_TEMPLATE_TEXT_MAX, form="with header and footer ")
        payload = {"template_type": "button", "text": text, "buttons": buttons}
        return {"attachment": {"type": "template", "payload": payload}}

    def cta_url(self, content: m.CtaUrl) -> dict[str, Any]:
        self.limit("display_text", content.display_text, self.cap.button_title_max, required=True)
        url = self.http("url", content.url)
        button = {"type": "web_url", "url": url, "title": content.display_text}
        return self.button_template(content.header, content.body, content.footer, [button])

    def cards(self, content: m.Cards) -> dict[str, Any]:
        count, most = len(content.cards), self.cap.cards_max
        if count > most:
            raise RenderError("cards", f"{count} cards; {self.title} shows at most {most}")
        elements = [self.card(f"cards[{i}]", card) for i, card in enumerate(content.cards)]
        payload = {"template_type": "generic", "elements": elements}
        return {"attachment": {"type": "template", "payload": payload}}

    def card(self, where: str, card: m.Card) -> dict[str, Any]:
        self.limit(f"{where}.title", card.title, self.cap.card_title_max, required=True)
        self.limit(f"{where}.subtitle", card.subtitle, CARD_SUBTITLE_MAX)
        if len(card.buttons) > self.cap.card_buttons_max:
            raise RenderError(
                f"{where}.buttons",
                f"{len(card.buttons)} buttons; {self.title} allows {self.cap.card_buttons_max}",
            )
        element: dict[str, Any] = {"title": card.title}
        if card.subtitle:
            element["subtitle"] = card.subtitle
        if card.image_url:
            element["image_url"] = self.http(f"{where}.image_url", card.image_url)
        if card.url:
            element["default_action"] = {
                "type": "web_url",
                "url": self.http(f"{where}.url", card.url),
            }
        if card.buttons:
            element["buttons"] = [
                self.card_button(f"{where}.buttons[{j}]", b) for j, b in enumerate(card.buttons)
            ]
        return element

    def card_button(self, where: str, button: m.CardButton) -> dict[str, Any]:
        if (button.id is None) == (button.url is None):
            raise RenderError(where, "give exactly one of id or url")
        self.limit(f"{where}.title", button.title, self.cap.button_title_max, required=True)
        if button.url is not None:
            return {
                "type": "web_url",
                "url": self.http(f"{where}.url", button.url),
                "title": button.title,
            }
        self.limit(f"{where}.id", button.id, PAYLOAD_MAX, required=True)
        return {"type": "postback", "title": button.title, "payload": button.id}

    # -- sender actions -------------------------------------------------------------------
    def sender_action(self, content: m.Typing | m.MarkRead | m.Reaction) -> dict[str, Any]:
        if isinstance(content, m.Typing):
            self.require(self.cap.typing, "typing", "show typing")
            return {"sender_action": "typing_on" if content.on else "typing_off"}
        if isinstance(content, m.MarkRead):
            self.require(self.cap.read_receipts, "mark_read", "mark messages as seen")
            return {"sender_action": "mark_seen"}
        self.require(self.cap.reactions, "reaction", "react to messages")
        if not content.emoji:
            return {"sender_action": "unreact", "payload": {"message_id": content.message_id}}
        if content.emoji not in LOVE:
            raise RenderError(
                "reaction.emoji", f"{self.title} reacts only with ❤️ (love), not {content.emoji}"
            )
        payload = {"message_id": content.message_id, "reaction": "love"}
        return {"sender_action": "react", "payload": payload}

    def require(self, capable: bool, where: str, what: str) -> None:
        if not capable:
            raise RenderError(where, f"{self.title} cannot {what}")
