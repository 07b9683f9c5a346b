"""A broadcast's message made personal: `{{contact.name}}` and `{{contact.<field>}}`
placeholders (the flows' syntax), each with an optional fallback after `|`. A placeholder
with no value and no fallback makes the message unsendable to that person — a template
parameter left empty is refused by the platform, and "Hi ," is worse than no message."""

from __future__ import annotations

import re
from typing import Any

from threadline.channels import messages as content_types
from threadline.contacts.models import Contact
from threadline.flows.expressions import dig

_PLACEHOLDER = re.compile(r"\{\{\s*contact\.([a-zA-Z_][\w.]*)\s*(?:\|([^}]*))?\}\}")


class MissingValue(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"contact.{name} has no value and no fallback")
        self.name = name


def has_placeholders(content: content_types.Content) -> bool:
    return _PLACEHOLDER.search(content.model_dump_json()) is not None


def _value(contact: Contact, name: str) -> Any:
    if name == "name":
        return contact.name or None
    return dig(contact.fields or {}, name)


def _fill(text: str, contact: Contact) -> str:
    def one(match: re.Match[str]) -> str:
        value = _value(contact, match.group(1))
        if value is None or value == "":
            if match.group(2) is None:
                raise MissingValue(match.group(1))
            return match.group(2).strip()
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return _PLACEHOLDER.sub(one, text)


def _walk(value: Any, contact: Contact) -> Any:
    if isinstance(value, str):
        return _fill(value, contact) if "{{" in value else value
    if isinstance(value, dict):
        return {k: _walk(v, contact) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, contact) for v in value]
    return value


def personal(content: content_types.Content, contact: Contact) -> dict[str, Any]:
    """The content as stored on the outbox row, placeholders filled for `contact`."""
    return _walk(content.model_dump(mode="json", exclude_none=True), contact)  # type: ignore[no-any-return]
