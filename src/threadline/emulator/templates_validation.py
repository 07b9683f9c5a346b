"""The emulated platform's checks of a create (or edit) request: the name, language,
category and parameter format, then each component (header, body, footer, buttons) with
its limits and the examples review needs. The first fault is refused with code 100 naming
the field, as the platform does; what passes is stored as the platform keeps it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from threadline.emulator.state import Refusal

CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
PARAMETER_FORMATS = ("POSITIONAL", "NAMED")
HEADER_FORMATS = ("TEXT", "IMAGE", "VIDEO", "GIF", "DOCUMENT", "LOCATION")
BUTTON_TYPES = (
    "QUICK_REPLY",
    "URL",
    "PHONE_NUMBER",
    "COPY_CODE",
    "OTP",
    "FLOW",
    "CATALOG",
    "MPM",
    "VOICE_CALL",
)
OTP_TYPES = ("COPY_CODE", "ONE_TAP", "ZERO_TAP")

NAME_MAX = 512
BODY_MAX = 1024
HEADER_TEXT_MAX = 60
FOOTER_MAX = 60
BUTTONS_MAX = 10
BUTTON_LABEL_MAX = 25
URL_MAX = 2000
COPY_CODE_MAX = 15
PER_TYPE_MAX = {"URL": 2, "PHONE_NUMBER": 1, "COPY_CODE": 1}

_NAME = re.compile(r"^[a-z0-9_]+$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
_VARIABLE = re.compile(r"\{\{(.*?)\}\}")
_NAMED_VARIABLE = re.compile(r"^[a-z][a-z0-9_]*$")


def invalid(where: str, problem: str) -> Refusal:
    """The platform's answer to a malformed template: code 100 naming the field."""
    return Refusal(100, f"(#100) Invalid parameter: {where}: {problem}")


@dataclass
class Content:
    """Validated components, as stored, and the texts the send rules read."""

    components: list[dict[str, Any]]
    body: str
    header: str | None
    buttons: list[dict[str, Any]]


def _text(item: dict[str, Any], where: str, limit: int, *, required: bool = True) -> str | None:
    text = item.get("text")
    if text is None:
        if required:
            raise invalid(f"{where}.text", "is required")
        return None
    if not isinstance(text, str) or not text.strip():
        raise invalid(f"{where}.text", "must be a non-empty string")
    if len(text) > limit:
        raise invalid(f"{where}.text", f"is {len(text)} characters; the limit is {limit}")
    return text


def _variables(text: str, fmt: str, where: str) -> list[str]:
    """The variables of a text, in order of first use, checked against the format."""
    found: list[str] = []
    for raw in _VARIABLE.findall(text):
        token = raw.strip()
        if fmt == "POSITIONAL":
            if not token.isdigit():
                raise invalid(where, f"variable {{{{{raw}}}}} is not positional ({{{{1}}}}, ...)")
        elif not _NAMED_VARIABLE.match(token):
            raise invalid(where, f"variable {{{{{raw}}}}} must be lowercase letters, digits and _")
        if token not in found:
            found.append(token)
    if fmt == "POSITIONAL" and found:
        numbers = sorted(int(n) for n in found)
        if numbers != list(range(1, len(numbers) + 1)):
            raise invalid(where, "positional variables must be {{1}}, {{2}}, ... in sequence")
    return found


def _example(item: dict[str, Any], where: str) -> dict[str, Any]:
    example = item.get("example")
    if not isinstance(example, dict):
        raise invalid(f"{where}.example", "is required when the text has variables")
    return example


def _named_examples(examples: Any, names: list[str], where: str) -> None:
    if not isinstance(examples, list):
        raise invalid(where, "must be a list of {param_name, example}")
    given = {
        e.get("param_name")
        for e in examples
        if isinstance(e, dict) and isinstance(e.get("example"), str) and e.get("example")
    }
    missing = [n for n in names if n not in given]
    if missing:
        raise invalid(where, f"has no example for {', '.join(missing)}")


def _header(item: dict[str, Any], where: str, fmt: str) -> str | None:
    kind = str(item.get("format", "")).upper()
    if kind not in HEADER_FORMATS:
        raise invalid(f"{where}.format", f"must be one of {', '.join(HEADER_FORMATS)}")
    item["format"] = kind
    if kind == "TEXT":
        text = _text(item, where, HEADER_TEXT_MAX)
        assert text is not None
        names = _variables(text, fmt, f"{where}.text")
        if len(names) > 1:
            raise invalid(f"{where}.text", "a text header can have at most one variable")
        if names:
            example = _example(item, where)
            if fmt == "POSITIONAL":
                values = example.get("header_text")
                if not (isinstance(values, list) and len(values) == 1 and values[0]):
                    raise invalid(f"{where}.example.header_text", "needs one example value")
            else:
                _named_examples(
                    example.get("header_text_named_params"),
                    names,
                    f"{where}.example.header_text_named_params",
                )
        return text
    if kind != "LOCATION":
        handles = (item.get("example") or {}).get("header_handle")
        if not (isinstance(handles, list) and handles and all(isinstance(h, str) for h in handles)):
            raise invalid(f"{where}.example.header_handle", f"a {kind} header needs a sample")
    return None


def _body(item: dict[str, Any], where: str, fmt: str) -> str:
    text = _text(item, where, BODY_MAX)
    assert text is not None
    names = _variables(text, fmt, f"{where}.text")
    if names:
        example = _example(item, where)
        if fmt == "POSITIONAL":
            rows = example.get("body_text")
            if not (
                isinstance(rows, list)
                and rows
                and isinstance(rows[0], list)
                and len(rows[0]) == len(names)
                and all(isinstance(v, str) and v for v in rows[0])
            ):
                raise invalid(
                    f"{where}.example.body_text",
                    f"needs [[...]] with {len(names)} example value(s)",
                )
        else:
            _named_examples(
                example.get("body_text_named_params"),
                names,
                f"{where}.example.body_text_named_params",
            )
    return text


def _footer(item: dict[str, Any], where: str) -> str:
    text = _text(item, where, FOOTER_MAX)
    assert text is not None
    if _VARIABLE.search(text):
        raise invalid(f"{where}.text", "a footer cannot have variables")
    return text


def _label(button: dict[str, Any], where: str) -> None:
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise invalid(f"{where}.text", "is required")
    if len(text) > BUTTON_LABEL_MAX:
        raise invalid(
            f"{where}.text", f"is {len(text)} characters; the limit is {BUTTON_LABEL_MAX}"
        )


def _button(button: Any, where: str) -> dict[str, Any]:
    if not isinstance(button, dict):
        raise invalid(where, "must be an object")
    kind = str(button.get("type", "")).upper()
    if kind not in BUTTON_TYPES:
        raise invalid(f"{where}.type", f"must be one of {', '.join(BUTTON_TYPES)}")
    button["type"] = kind
    if kind == "OTP":
        raise invalid(f"{where}.type", "OTP buttons are for AUTHENTICATION templates only")
    if kind == "COPY_CODE":
        example = button.get("example")
        if not isinstance(example, str) or not example:
            raise invalid(f"{where}.example", "a copy-code button needs an example code")
        if len(example) > COPY_CODE_MAX:
            raise invalid(f"{where}.example", f"the limit is {COPY_CODE_MAX} characters")
        return button
    _label(button, where)
    if kind == "URL":
        url = button.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise invalid(f"{where}.url", "must be an http(s) URL")
        if len(url) > URL_MAX:
            raise invalid(f"{where}.url", f"is {len(url)} characters; the limit is {URL_MAX}")
        names = _VARIABLE.findall(url)
        if len(names) > 1 or (names and not url.endswith("}}")):
            raise invalid(f"{where}.url", "may have one variable, at the end")
        if names:
            example = button.get("example")
            if not (isinstance(example, list) and example and isinstance(example[0], str)):
                raise invalid(f"{where}.example", "a URL with a variable needs an example URL")
    elif kind == "PHONE_NUMBER":
        phone = button.get("phone_number")
        if not isinstance(phone, str) or not re.fullmatch(r"\+?\d{6,20}", phone):
            raise invalid(f"{where}.phone_number", "must be a phone number")
    elif kind == "FLOW" and not any(k in button for k in ("flow_id", "flow_name", "flow_json")):
        raise invalid(where, "a FLOW button needs flow_id, flow_name or flow_json")
    return button


def _buttons(item: dict[str, Any], where: str) -> list[dict[str, Any]]:
    buttons = item.get("buttons")
    if not isinstance(buttons, list) or not buttons:
        raise invalid(f"{where}.buttons", "must be a non-empty list")
    if len(buttons) > BUTTONS_MAX:
        raise invalid(f"{where}.buttons", f"has {len(buttons)}; the limit is {BUTTONS_MAX}")
    checked = [
        _button(dict(b) if isinstance(b, dict) else b, f"{where}.buttons[{i}]")
        for i, b in enumerate(buttons)
    ]
    for kind, limit in PER_TYPE_MAX.items():
        if sum(1 for b in checked if b["type"] == kind) > limit:
            raise invalid(f"{where}.buttons", f"at most {limit} {kind} button(s)")
    return checked


def _auth(parts: dict[str, tuple[int, dict[str, Any]]]) -> Content:
    """Authentication templates: the platform's fixed body and an OTP button."""
    if "HEADER" in parts:
        raise invalid(
            f"components[{parts['HEADER'][0]}]", "authentication templates have no header"
        )
    text = _auth_body(*parts["BODY"])
    stored: list[dict[str, Any]] = [{"type": "BODY", "text": text}]
    if "FOOTER" in parts:
        stored.append(_auth_footer(*parts["FOOTER"]))
    if "BUTTONS" not in parts:
        raise invalid("components", "authentication templates need a BUTTONS component")
    stored_button = _otp_button(*parts["BUTTONS"])
    stored.append({"type": "BUTTONS", "buttons": [stored_button]})
    return Content(stored, text, None, [stored_button])


def _auth_body(index: int, body: dict[str, Any]) -> str:
    """The platform's own wording, with the security line when asked for."""
    if "text" in body:
        raise invalid(
            f"components[{index}].text", "authentication templates use the platform's fixed body"
        )
    recommend = body.get("add_security_recommendation", False)
    if not isinstance(recommend, bool):
        raise invalid(f"components[{index}].add_security_recommendation", "must be a boolean")
    text = "*{{1}}* is your verification code."
    if recommend:
        text += " For your security, do not share this code."
    return text


def _auth_footer(index: int, footer: dict[str, Any]) -> dict[str, Any]:
    if "text" in footer:
        raise invalid(f"components[{index}].text", "use code_expiration_minutes instead")
    minutes = footer.get("code_expiration_minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 90:
        raise invalid(f"components[{index}].code_expiration_minutes", "must be 1 to 90")
    return {"type": "FOOTER", "text": f"This code expires in {minutes} minutes."}


def _otp_button(index: int, group: dict[str, Any]) -> dict[str, Any]:
    """The one OTP button, checked, as the platform stores it."""
    where = f"components[{index}].buttons"
    buttons = group.get("buttons")
    if not isinstance(buttons, list) or len(buttons) != 1 or not isinstance(buttons[0], dict):
        raise invalid(where, "authentication templates have exactly one OTP button")
    button = buttons[0]
    if str(button.get("type", "")).upper() != "OTP":
        raise invalid(f"{where}[0].type", "must be OTP")
    otp_type = str(button.get("otp_type", "")).upper()
    if otp_type not in OTP_TYPES:
        raise invalid(f"{where}[0].otp_type", f"must be one of {', '.join(OTP_TYPES)}")
    if "text" in button:
        _label(button, f"{where}[0]")
    if otp_type != "COPY_CODE":
        _autofill(button, otp_type, f"{where}[0]")
    # Created as an OTP button, kept by the platform as a URL button carrying the code.
    return {
        "type": "URL",
        "text": button.get("text", "Copy code"),
        "url": f"https://www.whatsapp.com/otp/code/?otp_type={otp_type}&code=otp{{{{1}}}}",
    }


def _autofill(button: dict[str, Any], otp_type: str, where: str) -> None:
    """One-tap and zero-tap buttons: the apps that receive the code, and zero-tap's terms."""
    apps = button.get("supported_apps")
    if not isinstance(apps, list) or not 1 <= len(apps) <= 5:
        raise invalid(f"{where}.supported_apps", f"{otp_type} needs 1 to 5 apps")
    for i, app in enumerate(apps):
        if not (
            isinstance(app, dict)
            and isinstance(app.get("package_name"), str)
            and isinstance(app.get("signature_hash"), str)
            and len(app["signature_hash"]) == 11
        ):
            raise invalid(
                f"{where}.supported_apps[{i}]",
                "needs package_name and an 11-character signature_hash",
            )
    if otp_type == "ZERO_TAP" and button.get("zero_tap_terms_accepted") is not True:
        raise invalid(f"{where}.zero_tap_terms_accepted", "must be true for ZERO_TAP")


def validate_components(components: Any, category: str, fmt: str) -> Content:
    if not isinstance(components, list) or not components:
        raise invalid("components", "must be a non-empty list")
    parts: dict[str, tuple[int, dict[str, Any]]] = {}
    for i, item in enumerate(components):
        if not isinstance(item, dict):
            raise invalid(f"components[{i}]", "must be an object")
        kind = str(item.get("type", "")).upper()
        if kind not in ("HEADER", "BODY", "FOOTER", "BUTTONS"):
            raise invalid(f"components[{i}].type", "must be HEADER, BODY, FOOTER or BUTTONS")
        if kind in parts:
            raise invalid(f"components[{i}].type", f"more than one {kind}")
        parts[kind] = (i, {**item, "type": kind})
    if "BODY" not in parts:
        raise invalid("components", "a BODY component is required")
    if category == "AUTHENTICATION":
        return _auth(parts)
    header = body = None
    buttons: list[dict[str, Any]] = []
    stored: list[dict[str, Any]] = []
    for kind in ("HEADER", "BODY", "FOOTER", "BUTTONS"):
        if kind not in parts:
            continue
        index, item = parts[kind]
        where = f"components[{index}]"
        if kind == "HEADER":
            header = _header(item, where, fmt)
        elif kind == "BODY":
            body = _body(item, where, fmt)
        elif kind == "FOOTER":
            _footer(item, where)
        else:
            buttons = _buttons(item, where)
            item["buttons"] = buttons
        stored.append(item)
    assert body is not None
    return Content(stored, body, header, buttons)


@dataclass
class Submission:
    name: str
    language: str
    category: str
    parameter_format: str
    content: Content


def validate(body: Any) -> Submission:
    """A creation request, checked as the platform checks it (code 100 on the first fault)."""
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise invalid("name", "is required")
    if len(name) > NAME_MAX:
        raise invalid("name", f"is {len(name)} characters; the limit is {NAME_MAX}")
    if not _NAME.match(name):
        raise invalid("name", "may contain only lowercase letters, digits and underscores")
    language = body.get("language")
    if not isinstance(language, str) or not _LANGUAGE.match(language):
        raise invalid("language", "must be a language code such as en_US")
    category = body.get("category")
    if category not in CATEGORIES:
        raise invalid("category", f"must be one of {', '.join(CATEGORIES)}")
    fmt = body.get("parameter_format", "POSITIONAL")
    if fmt not in PARAMETER_FORMATS:
        raise invalid("parameter_format", "must be POSITIONAL or NAMED")
    content = validate_components(body.get("components"), category, fmt)
    ttl = body.get("message_send_ttl_seconds")
    low, high = _TTL_RANGES[category]
    if ttl is not None and not (isinstance(ttl, int) and low <= ttl <= high):
        raise invalid("message_send_ttl_seconds", f"must be {low} to {high} for {category}")
    return Submission(name, language, category, fmt, content)


# The platform's customisable TTL per category (seconds).
_TTL_RANGES = {
    "AUTHENTICATION": (30, 900),
    "UTILITY": (30, 43_200),
    "MARKETING": (43_200, 2_592_000),
}
