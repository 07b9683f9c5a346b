"""Turn channel-neutral content into the exact Cloud API request body.

Every limit is checked here, before any HTTP call: a message the platform would refuse for
its shape never leaves, and the error says which part is wrong."""

from __future__ import annotations

from typing import Any

from threadline.channels import messages as m
from threadline.channels import products
from threadline.channels.adapter import RenderError
from threadline.channels.text import cards_text
from threadline.channels.whatsapp.capabilities import CAPABILITIES, CAPTIONLESS
from threadline.channels.whatsapp.declaration import WHATSAPP

CAP = CAPABILITIES

__all__ = ["RenderError", "render"]


def _limit(where: str, value: str | None, maximum: int, *, required: bool = False) -> None:
    if value is None or value == "":
        if required:
            raise RenderError(where, "must not be empty")
        return
    if len(value) > maximum:
        raise RenderError(where, f"is {len(value)} characters; WhatsApp allows {maximum}")


def render(
    content: m.Content, to: str, *, reply_to: str | None = None, callback_data: str | None = None
) -> dict[str, Any]:
    """The JSON body for POST /{phone_number_id}/messages."""
    if isinstance(content, m.TimePicker):
        content = content.as_list()  # no time picker here: the slots as a list
    if isinstance(content, m.ProductMessage | m.ProductListMessage):
        # From the number's catalog when it has one and the products fit, else as text.
        content = products.shown(content, WHATSAPP.capabilities)
    if isinstance(content, m.MarkRead):
        return {"messaging_product": "whatsapp", "status": "read", "message_id": content.message_id}
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
    }
    body.update(_render_content(content))
    if reply_to:
        body["context"] = {"message_id": reply_to}
    if callback_data is not None:
        _limit("biz_opaque_callback_data", callback_data, CAP.callback_data_max)
        body["biz_opaque_callback_data"] = callback_data
    return body


def _render_content(content: m.Content) -> dict[str, Any]:
    if isinstance(content, m.Text):
        _limit("text.body", content.body, CAP.text_max, required=True)
        return {"type": "text", "text": {"body": content.body, "preview_url": content.preview_url}}
    if isinstance(content, m.Media):
        return {"type": content.kind, content.kind: _media_object(content)}
    if isinstance(content, m.Location):
        return {"type": "location", "location": _location(content)}
    if isinstance(content, m.ContactCards):
        return {"type": "contacts", "contacts": content.contacts}
    if isinstance(content, m.Reaction):
        return {
            "type": "reaction",
            "reaction": {"message_id": content.message_id, "emoji": content.emoji},
        }
    if isinstance(content, m.Template):
        return {"type": "template", "template": _template(content)}
    if isinstance(content, m.Cards):
        return _cards(content)
    if isinstance(content, m.Typing):
        raise RenderError(
            "typing", "WhatsApp shows typing only together with a read receipt (MarkRead)"
        )
    return {"type": "interactive", "interactive": _interactive(content)}


# WhatsApp has no carousel. Cards that are a choice (each one postback, nothing to open)
# become a list, so the tapped row answers with the same id a Messenger postback would;
# anything else is said as numbered text with its links. Images have no place in either.
CARDS_LIST_BUTTON = "Choose"  # the label `choices.present` gives its lists


def _cards(content: m.Cards) -> dict[str, Any]:
    for i, card in enumerate(content.cards):
        _limit(f"cards[{i}].title", card.title, CAP.text_max, required=True)
        for j, button in enumerate(card.buttons):
            if (button.id is None) == (button.url is None):
                raise RenderError(f"cards[{i}].buttons[{j}]", "give exactly one of id or url")
        if sum(1 for button in card.buttons if button.id) > 1:
            raise RenderError(f"cards[{i}].buttons", "WhatsApp can take one answer per card")
    if _cards_fit_a_list(content):
        rows = [
            m.ListRow(id=card.buttons[0].id or "", title=card.title, description=card.subtitle)
            for card in content.cards
        ]
        listing = m.ListMessage(
            body=content.body or "",
            button=CARDS_LIST_BUTTON,
            sections=[m.ListSection(rows=rows)],
        )
        return {"type": "interactive", "interactive": _list(listing)}
    text = cards_text(content)
    _limit("cards", text, CAP.text_max)
    return {"type": "text", "text": {"body": text, "preview_url": False}}


def _cards_fit_a_list(content: m.Cards) -> bool:
    def fits(card: m.Card) -> bool:
        button = card.buttons[0] if len(card.buttons) == 1 else None
        return (
            button is not None
            and button.id is not None
            and len(button.id) <= CAP.list_row_id_max
            and not card.url
            and len(card.title) <= CAP.list_row_title_max
            and len(card.subtitle or "") <= CAP.list_row_description_max
        )

    body_fits = bool(content.body) and len(content.body or "") <= CAP.interactive_body_max
    return body_fits and len(content.cards) <= CAP.list_rows_max and all(map(fits, content.cards))


def _media_object(media: m.Media) -> dict[str, Any]:
    if (media.media_id is None) == (media.link is None):
        raise RenderError(f"{media.kind}", "give exactly one of media_id or link")
    out: dict[str, Any] = {"id": media.media_id} if media.media_id else {"link": media.link}
    if media.caption:
        if media.kind in CAPTIONLESS:
            raise RenderError(
                f"{media.kind}.caption", f"{media.kind} messages cannot have a caption"
            )
        _limit(f"{media.kind}.caption", media.caption, CAP.caption_max)
        out["caption"] = media.caption
    if media.filename:
        if media.kind != "document":
            raise RenderError(f"{media.kind}.filename", "only documents have a filename")
        out["filename"] = media.filename
    return out


def _location(location: m.Location) -> dict[str, Any]:
    out: dict[str, Any] = {"latitude": location.latitude, "longitude": location.longitude}
    if location.name:
        out["name"] = location.name
    if location.address:
        out["address"] = location.address
    return out


def _header_footer(
    interactive: dict[str, Any], header: str | None, footer: str | None
) -> dict[str, Any]:
    if header:
        _limit("header", header, CAP.header_text_max)
        interactive["header"] = {"type": "text", "text": header}
    if footer:
        _limit("footer", footer, CAP.footer_max)
        interactive["footer"] = {"text": footer}
    return interactive


def _interactive(content: m.Content) -> dict[str, Any]:
    if isinstance(content, m.Buttons):
        _limit("body", content.body, CAP.interactive_body_max, required=True)
        count = len(content.buttons)
        if not CAP.buttons_min <= count <= CAP.buttons_max:
            raise RenderError("buttons", f"{count} buttons; WhatsApp allows 1 to {CAP.buttons_max}")
        titles = [b.title for b in content.buttons]
        if len(set(titles)) != len(titles):
            raise RenderError("buttons", "button titles must be unique")
        for i, button in enumerate(content.buttons):
            _limit(f"buttons[{i}].title", button.title, CAP.button_title_max, required=True)
            _limit(f"buttons[{i}].id", button.id, CAP.button_id_max, required=True)
        return _header_footer(
            {
                "type": "button",
                "body": {"text": content.body},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": b.id, "title": b.title}}
                        for b in content.buttons
                    ]
                },
            },
            content.header,
            content.footer,
        )
    if isinstance(content, m.ListMessage):
        return _header_footer(_list(content), content.header, content.footer)
    if isinstance(content, m.CtaUrl):
        _limit("body", content.body, CAP.interactive_body_max, required=True)
        _limit("display_text", content.display_text, CAP.cta_display_text_max, required=True)
        if not content.url.startswith(("https://", "http://")):
            raise RenderError("url", "must be an http(s) URL")
        return _header_footer(
            {
                "type": "cta_url",
                "body": {"text": content.body},
                "action": {
                    "name": "cta_url",
                    "parameters": {"display_text": content.display_text, "url": content.url},
                },
            },
            content.header,
            content.footer,
        )
    if isinstance(content, m.LocationRequest):
        _limit("body", content.body, CAP.interactive_body_max, required=True)
        return {
            "type": "location_request_message",
            "body": {"text": content.body},
            "action": {"name": "send_location"},
        }
    if isinstance(content, m.ProductMessage):
        return _product(content)
    if isinstance(content, m.ProductListMessage):
        return _product_list(content)
    raise RenderError("type", f"WhatsApp cannot send {type(content).__name__}")


def _retailer_id(where: str, item: m.ProductItem) -> str:
    _limit(f"{where}.retailer_id", item.retailer_id, CAP.product_retailer_id_max, required=True)
    return item.retailer_id


def _product(content: m.ProductMessage) -> dict[str, Any]:
    """A single-product message: WhatsApp draws name, price and image from its catalog, so
    only the ids travel. It takes no header; body and footer are optional."""
    _limit("body", content.body, CAP.interactive_body_max)
    interactive: dict[str, Any] = {"type": "product"}
    if content.body:
        interactive["body"] = {"text": content.body}
    interactive["action"] = {
        "catalog_id": content.catalog_id,
        "product_retailer_id": _retailer_id("product", content.product),
    }
    return _header_footer(interactive, None, content.footer)


def _product_list(content: m.ProductListMessage) -> dict[str, Any]:
    """A multi-product message: a text header and a body are required, each section needs
    a title, retailer ids are unique across the message."""
    _limit("header", content.header, CAP.header_text_max, required=True)
    _limit("body", content.body, CAP.interactive_body_max, required=True)
    ids = [item.retailer_id for item in content.items()]
    if len(set(ids)) != len(ids):
        raise RenderError("sections", "a product may appear once in a product list")
    sections = []
    for s, section in enumerate(content.sections):
        where = f"sections[{s}]"
        _limit(f"{where}.title", section.title, CAP.product_section_title_max, required=True)
        items = [
            {"product_retailer_id": _retailer_id(f"{where}.products[{i}]", item)}
            for i, item in enumerate(section.products)
        ]
        sections.append({"title": section.title, "product_items": items})
    interactive = {
        "type": "product_list",
        "header": {"type": "text", "text": content.header},
        "body": {"text": content.body},
        "action": {"catalog_id": content.catalog_id, "sections": sections},
    }
    return _header_footer(interactive, None, content.footer)


def _list(content: m.ListMessage) -> dict[str, Any]:
    _limit("body", content.body, CAP.interactive_body_max, required=True)
    _limit("button", content.button, CAP.list_button_max, required=True)
    sections = content.sections
    if not 1 <= len(sections) <= CAP.list_sections_max:
        raise RenderError(
            "sections", f"{len(sections)} sections; allowed 1 to {CAP.list_sections_max}"
        )
    rows = [row for section in sections for row in section.rows]
    if not 1 <= len(rows) <= CAP.list_rows_max:
        raise RenderError(
            "sections", f"{len(rows)} rows in total; allowed 1 to {CAP.list_rows_max}"
        )
    ids = [row.id for row in rows]
    if len(set(ids)) != len(ids):
        raise RenderError("sections", "row ids must be unique")
    rendered = []
    for s, section in enumerate(sections):
        if len(sections) > 1 and not section.title:
            raise RenderError(
                f"sections[{s}].title", "required when there is more than one section"
            )
        _limit(f"sections[{s}].title", section.title, CAP.list_section_title_max)
        out_rows = []
        for r, row in enumerate(section.rows):
            where = f"sections[{s}].rows[{r}]"
            _limit(f"{where}.id", row.id, CAP.list_row_id_max, required=True)
            _limit(f"{where}.title", row.title, CAP.list_row_title_max, required=True)
            _limit(f"{where}.description", row.description, CAP.list_row_description_max)
            item = {"id": row.id, "title": row.title}
            if row.description:
                item["description"] = row.description
            out_rows.append(item)
        out_section: dict[str, Any] = {"rows": out_rows}
        if section.title:
            out_section["title"] = section.title
        rendered.append(out_section)
    return {
        "type": "list",
        "body": {"text": content.body},
        "action": {"button": content.button, "sections": rendered},
    }


def _text_params(values: list[str] | dict[str, str], where: str) -> list[dict[str, Any]]:
    if isinstance(values, dict):
        return [
            {"type": "text", "parameter_name": name, "text": _param(f"{where}.{name}", text)}
            for name, text in values.items()
        ]
    return [{"type": "text", "text": _param(f"{where}[{i}]", v)} for i, v in enumerate(values)]


def _param(where: str, value: str) -> str:
    if not value.strip():
        raise RenderError(where, "template parameters must not be empty")
    return value


def _template(content: m.Template) -> dict[str, Any]:
    _limit("template.name", content.name, CAP.template_name_max, required=True)
    components: list[dict[str, Any]] = []
    headers = [h for h in (content.header_text, content.header_media, content.header_location) if h]
    if len(headers) > 1:
        raise RenderError("template.header", "a template has at most one header")
    if content.header_text:
        components.append(
            {"type": "header", "parameters": _text_params(content.header_text, "header_text")}
        )
    if content.header_media:
        media = content.header_media
        if (media.media_id is None) == (media.link is None):
            raise RenderError("template.header_media", "give exactly one of media_id or link")
        obj: dict[str, Any] = {"id": media.media_id} if media.media_id else {"link": media.link}
        if media.filename and media.kind == "document":
            obj["filename"] = media.filename
        components.append({"type": "header", "parameters": [{"type": media.kind, media.kind: obj}]})
    if content.header_location:
        components.append(
            {
                "type": "header",
                "parameters": [
                    {"type": "location", "location": _location(content.header_location)}
                ],
            }
        )
    body_params = _text_params(content.body, "body")
    if content.otp_code is not None:
        _limit("otp_code", content.otp_code, CAP.otp_code_max, required=True)
        if body_params:
            raise RenderError("body", "authentication templates take only the code (otp_code)")
        body_params = [{"type": "text", "text": content.otp_code}]
    if body_params:
        components.append({"type": "body", "parameters": body_params})
    indexes = [b.index for b in content.buttons]
    if len(set(indexes)) != len(indexes):
        raise RenderError("template.buttons", "each button index may appear once")
    for button in content.buttons:
        components.append(_template_button(button))
    if content.otp_code is not None and not content.buttons:
        components.append(
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": content.otp_code}],
            }
        )
    out: dict[str, Any] = {"name": content.name, "language": {"code": content.language}}
    if components:
        out["components"] = components
    return out


def _template_button(button: m.TemplateButtonParam) -> dict[str, Any]:
    where = f"template.buttons[{button.index}]"
    if button.sub_type == "quick_reply":
        param: dict[str, Any] = {"type": "payload", "payload": _param(where, button.value)}
    elif button.sub_type == "copy_code":
        _limit(where, button.value, CAP.otp_code_max, required=True)
        param = {"type": "coupon_code", "coupon_code": button.value}
    else:
        param = {"type": "text", "text": _param(where, button.value)}
    return {
        "type": "button",
        "sub_type": button.sub_type,
        "index": str(button.index),
        "parameters": [param],
    }
