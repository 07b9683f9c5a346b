"""Channel events to and from JSON, so the inbox can store exactly what was parsed."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from typing import Any

from threadline.channels import events as ev

EVENT_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        ev.InboundMessage,
        ev.StatusUpdate,
        ev.PlatformErrors,
        ev.TemplateStatusChange,
        ev.TemplateCategoryChange,
        ev.TemplateQualityChange,
        ev.NumberQualityChange,
        ev.MarketingPreference,
        ev.StatusWatermark,
        ev.Echo,
        ev.Referral,
        ev.SubscriptionChange,
        ev.PluginOptIn,
        ev.MessageDeleted,
        ev.Comment,
        ev.Suppression,
        ev.ThreadControl,
        ev.PolicyEnforcement,
        ev.Unhandled,
        ev.Malformed,
    )
}


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def dump(event: ev.ChannelEvent) -> dict[str, Any]:
    return {"type": type(event).__name__, "data": _encode(event)}


_HINTS: dict[str, dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    found = _HINTS.get(cls.__qualname__)
    if found is None:
        found = _HINTS[cls.__qualname__] = typing.get_type_hints(cls, vars(ev))
    return found


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _decode(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        (item, *_rest) = typing.get_args(hint)
        return tuple(_decode(item, v) for v in value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value)
    return value


def _build(cls: type[Any], data: dict[str, Any]) -> Any:
    hints = _hints(cls)
    kwargs = {name: _decode(hints[name], value) for name, value in data.items() if name in hints}
    return cls(**kwargs)


def load(stored: dict[str, Any]) -> ev.ChannelEvent:
    cls = EVENT_TYPES[stored["type"]]
    event: ev.ChannelEvent = _build(cls, stored["data"])
    return event
