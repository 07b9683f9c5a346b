"""The platform's create-template request for a definition: the body of
`POST /{WABA_ID}/message_templates` for one language, with the examples review needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threadline.templates.definition import (
    VARIABLE,
    AuthenticationOptions,
    Button,
    Components,
    CopyCodeButton,
    Header,
    MediaHeader,
    PhoneButton,
    QuickReply,
    TemplateDefinition,
    TemplateSendError,
    TextHeader,
    UrlButton,
    Variable,
    variables_in,
)


def _example(spec: Variable | None, where: str, defn: TemplateDefinition) -> str:
    if spec is None or spec.example is None:
        raise TemplateSendError(f"template {defn.name}: {where} has no example")
    return spec.example


def _text_examples(
    text: str, variables: Mapping[str, Variable], where: str, defn: TemplateDefinition
) -> list[tuple[str, str]]:
    """(variable, example) once per variable, in order of appearance."""
    keys = list(dict.fromkeys(variables_in(text)))
    return [(k, _example(variables.get(k), f"{where} variable {{{{{k}}}}}", defn)) for k in keys]


def _header_payload(header: Header, defn: TemplateDefinition) -> dict[str, Any]:
    if isinstance(header, TextHeader):
        out: dict[str, Any] = {"type": "HEADER", "format": "TEXT", "text": header.text}
        examples = _text_examples(header.text, header.variables, "header", defn)
        if examples and defn.parameter_format == "NAMED":
            named = [{"param_name": k, "example": v} for k, v in examples]
            out["example"] = {"header_text_named_params": named}
        elif examples:
            out["example"] = {"header_text": [v for _k, v in examples]}
        return out
    if isinstance(header, MediaHeader):
        handle = header.example
        if handle is None:
            raise TemplateSendError(f"template {defn.name}: header {header.type} has no example")
        return {
            "type": "HEADER",
            "format": header.type.upper(),
            "example": {"header_handle": [handle]},
        }
    return {"type": "HEADER", "format": "LOCATION"}


def _button_payload(button: Button, index: int, defn: TemplateDefinition) -> dict[str, Any]:
    where = f"buttons.{index}"
    if isinstance(button, QuickReply):
        return {"type": "QUICK_REPLY", "text": button.text}
    if isinstance(button, PhoneButton):
        return {"type": "PHONE_NUMBER", "text": button.text, "phone_number": button.phone_number}
    if isinstance(button, UrlButton):
        out: dict[str, Any] = {"type": "URL", "text": button.text, "url": button.url}
        keys = variables_in(button.url)
        if keys:
            sample = _example(button.variable, f"{where} url variable", defn)
            out["example"] = [VARIABLE.sub(lambda _m: sample, button.url, count=1)]
        return out
    if isinstance(button, CopyCodeButton):
        return {"type": "COPY_CODE", "example": _example(button.variable, where, defn)}
    otp: dict[str, Any] = {"type": "OTP", "otp_type": button.otp_type}
    if button.text is not None:
        otp["text"] = button.text
    if button.autofill_text is not None:
        otp["autofill_text"] = button.autofill_text
    if button.otp_type == "ZERO_TAP" and button.zero_tap_terms_accepted is not None:
        otp["zero_tap_terms_accepted"] = button.zero_tap_terms_accepted
    if button.supported_apps:
        otp["supported_apps"] = [app.model_dump() for app in button.supported_apps]
    return otp


def _authentication_components(defn: TemplateDefinition, parts: Components) -> list[dict[str, Any]]:
    options = defn.authentication or AuthenticationOptions()
    # The body and footer wording is the platform's own; only these options are sent.
    out: list[dict[str, Any]] = [
        {"type": "BODY", "add_security_recommendation": options.add_security_recommendation}
    ]
    if options.code_expiration_minutes is not None:
        out.append({"type": "FOOTER", "code_expiration_minutes": options.code_expiration_minutes})
    if parts.buttons:
        buttons = [_button_payload(b, i, defn) for i, b in enumerate(parts.buttons)]
        out.append({"type": "BUTTONS", "buttons": buttons})
    return out


def to_graph_payload(defn: TemplateDefinition, language: str | None = None) -> dict[str, Any]:
    """The body of `POST /{WABA_ID}/message_templates` for one language. Raises
    TemplateSendError when an example the platform requires is missing."""
    language, parts = defn.components_for(language)
    payload: dict[str, Any] = {"name": defn.name, "language": language, "category": defn.category}
    if defn.message_send_ttl_seconds is not None:
        payload["message_send_ttl_seconds"] = defn.message_send_ttl_seconds
    if defn.category == "AUTHENTICATION":
        payload["components"] = _authentication_components(defn, parts)
        return payload
    payload["parameter_format"] = defn.parameter_format
    components: list[dict[str, Any]] = []
    if parts.header is not None:
        components.append(_header_payload(parts.header, defn))
    body_text = parts.body.text or ""
    body: dict[str, Any] = {"type": "BODY", "text": body_text}
    examples = _text_examples(body_text, parts.body.variables, "body", defn)
    if examples and defn.parameter_format == "NAMED":
        named = [{"param_name": k, "example": v} for k, v in examples]
        body["example"] = {"body_text_named_params": named}
    elif examples:
        body["example"] = {"body_text": [[v for _k, v in examples]]}
    components.append(body)
    if parts.footer is not None:
        components.append({"type": "FOOTER", "text": parts.footer.text})
    if parts.buttons:
        buttons = [_button_payload(b, i, defn) for i, b in enumerate(parts.buttons)]
        components.append({"type": "BUTTONS", "buttons": buttons})
    payload["components"] = components
    return payload
