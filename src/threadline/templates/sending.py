"""The send content of a template for one contact: every variable resolved from overrides,
the contact's fields, fixed values or defaults, or a TemplateSendError naming the one that
has no value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from threadline.channels import messages as m
from threadline.templates.definition import (
    Components,
    CopyCodeButton,
    LocationHeader,
    MediaHeader,
    QuickReply,
    TemplateDefinition,
    TemplateSendError,
    TextHeader,
    UrlButton,
    Variable,
    variables_in,
)


def _field(fields: Mapping[str, Any], dotted: str) -> str | None:
    """A contact field, `address.city` walking nested mappings; None when empty."""
    value: Any = fields
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    if value is None or isinstance(value, Mapping | list):
        return None
    shown = str(value)
    return shown if shown.strip() else None


@dataclass(frozen=True, slots=True)
class _Resolver:
    defn: TemplateDefinition
    language: str
    fields: Mapping[str, Any]
    overrides: Mapping[str, str]

    def value(self, slot: str, key: str | None, spec: Variable | None, label: str) -> str:
        """override → contact field → fixed value → default."""
        if key is None:
            names = [slot]
        elif slot == "body" or self.defn.parameter_format == "NAMED":
            names = [f"{slot}.{key}", key]  # a plain name is the same value everywhere
        else:
            names = [f"{slot}.{key}"]  # the header's {{1}} is not the body's
        for name in names:
            given = self.overrides.get(name)
            if given is not None and given.strip():
                return given
        if spec is not None:
            if spec.field is not None and (found := _field(self.fields, spec.field)) is not None:
                return found
            if spec.value is not None:
                return spec.value
            if spec.default is not None:
                return spec.default
        if spec is not None and spec.field is not None:
            why = f"the contact has no {spec.field} and it has no default"
        elif spec is None:
            why = "it is not declared under variables"
        else:
            why = "it has no field, value or default"
        raise TemplateSendError(
            f"template {self.defn.name} ({self.language}): {label} has no value: {why}; "
            f"pass overrides['{names[0]}']"
        )

    def text_values(
        self, slot: str, text: str, variables: Mapping[str, Variable]
    ) -> list[str] | dict[str, str] | None:
        keys = list(dict.fromkeys(variables_in(text)))
        if not keys:
            return None
        resolved = {
            k: self.value(slot, k, variables.get(k), f"{slot} variable {{{{{k}}}}}") for k in keys
        }
        if self.defn.parameter_format == "NAMED":
            return resolved
        return [resolved[k] for k in sorted(keys, key=lambda k: int(k) if k.isdigit() else 0)]


def _location(header: LocationHeader, given: m.Location | None, resolver: _Resolver) -> m.Location:
    if given is not None:
        return given
    if header.location is None:
        raise TemplateSendError(
            f"template {resolver.defn.name} ({resolver.language}): the location header has no "
            "location; give one in the file or pass location="
        )
    return m.Location(**header.location.model_dump())


def _media(header: MediaHeader, resolver: _Resolver) -> m.TemplateMedia:
    spec = header.variable
    if spec is None and header.example and header.example.startswith(("https://", "http://")):
        spec = Variable(value=header.example)
    source = resolver.value("header", None, spec, f"header {header.type}")
    is_link = source.startswith(("https://", "http://"))
    return m.TemplateMedia(
        kind=header.type,
        link=source if is_link else None,
        media_id=None if is_link else source,
        filename=header.filename if header.type == "document" else None,
    )


def _buttons(parts: Components, resolver: _Resolver) -> list[m.TemplateButtonParam]:
    out: list[m.TemplateButtonParam] = []
    for index, button in enumerate(parts.buttons):
        slot = f"button.{index}"
        if isinstance(button, QuickReply) and button.payload:
            value = resolver.overrides.get(slot) or button.payload
            out.append(m.TemplateButtonParam(index=index, sub_type="quick_reply", value=value))
        elif isinstance(button, UrlButton) and variables_in(button.url):
            value = resolver.value(slot, None, button.variable, f"button {index} url suffix")
            out.append(m.TemplateButtonParam(index=index, sub_type="url", value=value))
        elif isinstance(button, CopyCodeButton):
            value = resolver.value(slot, None, button.variable, f"button {index} code")
            out.append(m.TemplateButtonParam(index=index, sub_type="copy_code", value=value))
    return out


def send_parameters(
    defn: TemplateDefinition,
    language: str | None,
    contact_fields: Mapping[str, Any],
    overrides: Mapping[str, str] | None = None,
    *,
    location: m.Location | None = None,
) -> m.Template:
    """The send content for one contact. Each variable takes the first of: an override
    (`body.<key>` or plain `<key>`; `header.<key>`, where plain `<name>` also serves in NAMED
    templates; `button.<index>` for a button; `code` for an authentication template), the
    contact field it names, its fixed value, its default. A variable with none of these raises
    TemplateSendError naming it."""
    language, parts = defn.components_for(language)
    resolver = _Resolver(defn, language, contact_fields, dict(overrides or {}))
    if defn.category == "AUTHENTICATION":
        given = [resolver.overrides.get(k, "").strip() for k in ("code", "body.1", "1")]
        code = next((c for c in given if c), None)
        if code is None:
            raise TemplateSendError(
                f"template {defn.name} ({language}): the verification code has no value; "
                "pass overrides['code']"
            )
        return m.Template(name=defn.name, language=language, otp_code=code)
    header = parts.header
    header_text = (
        resolver.text_values("header", header.text, header.variables)
        if isinstance(header, TextHeader)
        else None
    )
    header_media = _media(header, resolver) if isinstance(header, MediaHeader) else None
    header_location = (
        _location(header, location, resolver) if isinstance(header, LocationHeader) else None
    )
    body = resolver.text_values("body", parts.body.text or "", parts.body.variables)
    return m.Template(
        name=defn.name,
        language=language,
        header_text=header_text,
        header_media=header_media,
        header_location=header_location,
        body=body if body is not None else [],
        buttons=_buttons(parts, resolver),
    )
