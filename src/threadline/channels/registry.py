"""Every channel type Threadline speaks, by kind: the one place that names them all.

Neutral layers ask the registry for a type's declaration (facts) or adapter (code) and
never import `channels.<type>` themselves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threadline.channels import messages as m
from threadline.channels.adapter import Adapter
from threadline.channels.apple.adapter import ADAPTER as APPLE_ADAPTER
from threadline.channels.apple.declaration import APPLE
from threadline.channels.capabilities import Capabilities, ProductForm
from threadline.channels.email.adapter import ADAPTER as EMAIL_ADAPTER
from threadline.channels.email.declaration import EMAIL
from threadline.channels.instagram.adapter import ADAPTER as INSTAGRAM_ADAPTER
from threadline.channels.instagram.declaration import INSTAGRAM
from threadline.channels.kinds import Channel
from threadline.channels.messenger.adapter import ADAPTER as MESSENGER_ADAPTER
from threadline.channels.messenger.declaration import MESSENGER
from threadline.channels.products import form_of
from threadline.channels.rules import ChannelRules
from threadline.channels.sms.adapter import ADAPTER as SMS_ADAPTER
from threadline.channels.sms.declaration import SMS
from threadline.channels.types import Billable, ChannelType
from threadline.channels.whatsapp.adapter import ADAPTER as WHATSAPP_ADAPTER
from threadline.channels.whatsapp.declaration import WHATSAPP
from threadline.kit.errors import InvalidInput

TYPES: dict[Channel, ChannelType] = {
    t.kind: t for t in (WHATSAPP, MESSENGER, INSTAGRAM, SMS, EMAIL, APPLE)
}
ADAPTERS: dict[Channel, Adapter] = {
    Channel.WHATSAPP: WHATSAPP_ADAPTER,
    Channel.MESSENGER: MESSENGER_ADAPTER,
    Channel.INSTAGRAM: INSTAGRAM_ADAPTER,
    Channel.SMS: SMS_ADAPTER,
    Channel.EMAIL: EMAIL_ADAPTER,
    Channel.APPLE: APPLE_ADAPTER,
}


def declaration(kind: str | Channel) -> ChannelType:
    try:
        return TYPES[Channel(kind)]
    except (KeyError, ValueError):
        supported = ", ".join(sorted(TYPES))
        raise InvalidInput(
            f"unknown channel type '{kind}' (supported: {supported})", where="kind"
        ) from None


def adapter(kind: str | Channel) -> Adapter:
    return ADAPTERS[declaration(kind).kind]


def capabilities_for(kind: Channel) -> Capabilities:
    """What the type can show."""
    return TYPES[kind].capabilities


def product_form(kind: Channel, content: m.Products) -> ProductForm:
    """How the type will show these products (its catalog, a carousel or text)."""
    return form_of(content, TYPES[kind].capabilities)


def rules_for(kind: Channel) -> ChannelRules:
    return TYPES[kind].rules


def billable(kind: Channel, content: m.Content | Mapping[str, Any]) -> Billable | None:
    """How a content is billed on a type priced per unit (None: per message or free). Stored
    contents are validated only for such types, so the others pay nothing for asking."""
    found = TYPES.get(kind)
    if found is None or found.billing is None:
        return None
    if isinstance(content, Mapping):
        try:
            content = m.CONTENT_ADAPTER.validate_python(content)
        except ValueError:
            return None
    return found.billing(content)


def urn_scheme_for(kind: Channel) -> str:
    return TYPES[kind].urn_scheme
