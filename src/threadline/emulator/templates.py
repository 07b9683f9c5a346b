"""Template lifecycle on the emulated platform.

Creation through `POST /{waba_id}/message_templates` with the platform's validation, review by
rules once the emulator clock passes the review delay, quality feedback that pauses (3 h, then
6 h) and finally disables a template, edits with the platform's edit limits, deletion, and
the three template webhooks (`message_template_status_update`, `template_category_update`,
`message_template_quality_update`) posted signed to the WABA's callback URL.

Nothing here runs on its own: `advance()` does whatever the emulator clock has made due, and
the routes that can observe a template (clock advance, template routes, sends) call it first.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from threadline.emulator.hooks import envelope
from threadline.emulator.runtime import Runtime
from threadline.emulator.state import EmulatorState, Refusal, TemplateDef, WabaTemplates

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
QUALITIES = ("GREEN", "YELLOW", "RED")
EDITABLE = ("APPROVED", "REJECTED", "PAUSED")

NAME_MAX = 512
BODY_MAX = 1024
HEADER_TEXT_MAX = 60
FOOTER_MAX = 60
BUTTONS_MAX = 10
BUTTON_LABEL_MAX = 25
URL_MAX = 2000
COPY_CODE_MAX = 15
PER_TYPE_MAX = {"URL": 2, "PHONE_NUMBER": 1, "COPY_CODE": 1}
CREATIONS_PER_HOUR = 100
EDITS_PER_30_DAYS = 10
EDIT_GAP = timedelta(hours=24)
EDIT_WINDOW = timedelta(days=30)
NAME_REUSE_AFTER_DELETE = timedelta(days=30)
PAUSE_HOURS = (3, 6)  # the third pause disables the template
HOOK_SPACING = 0.1  # seconds between template webhooks, so they arrive in order

_NAME = re.compile(r"^[a-z0-9_]+$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
_VARIABLE = re.compile(r"\{\{(.*?)\}\}")
_NAMED_VARIABLE = re.compile(r"^[a-z][a-z0-9_]*$")
_ADJACENT = re.compile(r"\}\}\s*\{\{")


def _words(*phrases: str) -> re.Pattern[str]:
    alternatives = "|".join(phrases)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


# Wording that makes a message promotional: a UTILITY template containing it is MARKETING.
PROMOTIONAL = _words(
    r"discounts?",
    r"\d+\s?%\s?off",
    r"% off",
    r"sale",
    r"offers?",
    r"free shipping",
    r"limited[- ]time",
    r"coupons?",
    r"promo(?: code)?",
    r"buy now",
    r"shop now",
    r"black friday",
    r"clearance",
    r"ofertas?",
    r"descuentos?",
    r"env[ií]o gratis",
    r"cup[oó]n(?:es)?",
    r"rebajas?",
    r"promo[cç](?:ão|ao|ões|oes)",
    r"promoci[oó]n(?:es)?",
    r"descontos?",
    r"cupom",
    r"frete gr[aá]tis",
    r"liquida[cç][aã]o",
    r"compre j[aá]",
    r"compra ya",
)
# Wording the platform refuses outright.
ABUSIVE = _words(
    r"idiots?",
    r"stupid",
    r"morons?",
    r"dumb",
    r"loser",
    r"shut up",
    r"bastards?",
    r"hate you",
    r"kill you",
    r"idiotas?",
    r"est[uú]pid[oa]s?",
    r"imb[eé]cil(?:es)?",
    r"burr[oa]s?",
    r"ot[aá]ri[oa]s?",
)


def invalid(where: str, problem: str) -> Refusal:
    """The platform's answer to a malformed template: code 100 naming the field."""
    return Refusal(100, f"(#100) Invalid parameter: {where}: {problem}")


# -- validation -----------------------------------------------------------------------------
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
    index, body = parts["BODY"]
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
    stored: list[dict[str, Any]] = [{"type": "BODY", "text": text}]
    if "FOOTER" in parts:
        index, footer = parts["FOOTER"]
        if "text" in footer:
            raise invalid(f"components[{index}].text", "use code_expiration_minutes instead")
        minutes = footer.get("code_expiration_minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 90:
            raise invalid(f"components[{index}].code_expiration_minutes", "must be 1 to 90")
        stored.append({"type": "FOOTER", "text": f"This code expires in {minutes} minutes."})
    if "BUTTONS" not in parts:
        raise invalid("components", "authentication templates need a BUTTONS component")
    index, group = parts["BUTTONS"]
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
        apps = button.get("supported_apps")
        if not isinstance(apps, list) or not 1 <= len(apps) <= 5:
            raise invalid(f"{where}[0].supported_apps", f"{otp_type} needs 1 to 5 apps")
        for i, app in enumerate(apps):
            if not (
                isinstance(app, dict)
                and isinstance(app.get("package_name"), str)
                and isinstance(app.get("signature_hash"), str)
                and len(app["signature_hash"]) == 11
            ):
                raise invalid(
                    f"{where}[0].supported_apps[{i}]",
                    "needs package_name and an 11-character signature_hash",
                )
        if otp_type == "ZERO_TAP" and button.get("zero_tap_terms_accepted") is not True:
            raise invalid(f"{where}[0].zero_tap_terms_accepted", "must be true for ZERO_TAP")
    # Created as an OTP button, kept by the platform as a URL button carrying the code.
    stored_button = {
        "type": "URL",
        "text": button.get("text", "Copy code"),
        "url": f"https://www.whatsapp.com/otp/code/?otp_type={otp_type}&code=otp{{{{1}}}}",
    }
    stored.append({"type": "BUTTONS", "buttons": [stored_button]})
    return Content(stored, text, None, [stored_button])


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
    return Submission(name, language, category, fmt, content)


# -- webhooks -------------------------------------------------------------------------------
def _emit(rt: Runtime, waba_id: str, field_name: str, value: dict[str, Any], at: datetime) -> None:
    """Post one template webhook to the WABA's callback, after any earlier one."""
    number = next(
        (n for n in rt.state.numbers.values() if n.waba_id == waba_id and n.callback_url), None
    )
    if number is None:
        return
    wall = time.monotonic()
    due = max(wall, rt.state.template_hooks_due)
    rt.state.template_hooks_due = due + HOOK_SPACING
    rt.hooks.schedule(number, envelope(number, field_name, value, at), due - wall)


def _ids(template: TemplateDef) -> dict[str, Any]:
    return {
        "message_template_id": int(template.id) if template.id.isdigit() else template.id,
        "message_template_name": template.name,
        "message_template_language": template.language,
    }


def _record(template: TemplateDef, at: datetime, event: str, **detail: Any) -> None:
    template.history.append({"at": at.isoformat(), "event": event, **detail})


def _set_status(
    rt: Runtime,
    template: TemplateDef,
    status: str,
    at: datetime,
    reason: str = "NONE",
    **extra: Any,
) -> None:
    template.status = status
    _record(template, at, status, reason=reason, **extra)
    value = {
        "event": status,
        **_ids(template),
        "reason": reason,
        "message_template_category": template.category,
        **extra,
    }
    _emit(rt, template.waba_id, "message_template_status_update", value, at)


# -- lifecycle ------------------------------------------------------------------------------
def _waba(state: EmulatorState, waba_id: str) -> WabaTemplates:
    return state.wabas[waba_id]


def create(rt: Runtime, waba_id: str, body: Any) -> TemplateDef:
    state = rt.state
    now = state.now()
    submission = validate(body)
    if state.template(waba_id, submission.name, submission.language) is not None:
        raise invalid(
            "name",
            f"a template named {submission.name!r} already exists in {submission.language}",
        )
    waba = _waba(state, waba_id)
    deleted_at = waba.deleted_names.get(submission.name)
    if deleted_at is not None and now - deleted_at < NAME_REUSE_AFTER_DELETE:
        raise invalid(
            "name", f"{submission.name!r} was deleted less than 30 days ago and cannot be reused"
        )
    while waba.created and now - waba.created[0] >= timedelta(hours=1):
        waba.created.popleft()
    if len(waba.created) >= CREATIONS_PER_HOUR:
        raise Refusal(
            80007,
            f"(#80007) Rate limit hit: at most {CREATIONS_PER_HOUR} message templates "
            "can be created per hour in a WhatsApp Business Account",
            state.throttle_http_status,
        )
    waba.created.append(now)
    content = submission.content
    template = TemplateDef(
        id=state.new_template_id(),
        waba_id=waba_id,
        name=submission.name,
        language=submission.language,
        category=submission.category,
        status="PENDING",
        body=content.body,
        header=content.header,
        buttons=content.buttons,
        components=content.components,
        parameter_format=submission.parameter_format,
        review_due=now + timedelta(seconds=waba.review_delay),
    )
    _record(template, now, "PENDING", category=template.category)
    state.templates[template.id] = template
    return template


def _texts(template: TemplateDef) -> str:
    parts = [template.header or "", template.body]
    for component in template.components:
        if component.get("type") == "FOOTER":
            parts.append(str(component.get("text", "")))
    parts.extend(str(b.get("text", "")) for b in template.buttons)
    return "\n".join(parts)


def review(rt: Runtime, template: TemplateDef, at: datetime) -> None:
    """The platform's verdict on a PENDING template, by rules."""
    template.review_due = None
    text = _texts(template)
    abusive = ABUSIVE.search(text)
    promotional = PROMOTIONAL.search(text)
    if abusive:
        _reject(
            rt,
            template,
            at,
            "ABUSIVE_CONTENT",
            f"Your template contains abusive wording ({abusive.group(0)!r}).",
            "Remove offensive or threatening language.",
        )
    elif _ADJACENT.search(template.body):
        _reject(
            rt,
            template,
            at,
            "INVALID_FORMAT",
            "Your template has parameters placed next to each other without text between them.",
            "Separate parameters with descriptive text.",
        )
    elif template.category == "UTILITY" and promotional:
        if _waba(rt.state, template.waba_id).reject_miscategorised:
            _reject(
                rt,
                template,
                at,
                "INCORRECT_CATEGORY",
                f"Your UTILITY template has promotional content ({promotional.group(0)!r}).",
                "Submit it as a MARKETING template.",
            )
        else:
            previous, template.category = template.category, "MARKETING"
            _record(template, at, "CATEGORY", previous=previous, new=template.category)
            value = {**_ids(template), "previous_category": previous, "new_category": "MARKETING"}
            _emit(rt, template.waba_id, "template_category_update", value, at)
            _approve(rt, template, at)
    else:
        _approve(rt, template, at)


def _approve(rt: Runtime, template: TemplateDef, at: datetime) -> None:
    template.rejection_reason = None
    _set_status(rt, template, "APPROVED", at)


def _reject(
    rt: Runtime, template: TemplateDef, at: datetime, reason: str, why: str, advice: str
) -> None:
    template.rejection_reason = reason
    info = {"reason": why, "recommendation": advice}
    _set_status(rt, template, "REJECTED", at, reason, rejection_info=info)


def feedback(rt: Runtime, template: TemplateDef, quality: str) -> None:
    """A new quality assessment: a change emits message_template_quality_update; RED on an
    approved template pauses it (3 h, then 6 h) and the third time disables it."""
    at = rt.state.now()
    previous = template.quality
    if quality != previous:
        template.quality = quality
        _record(template, at, "QUALITY", previous=previous, new=quality)
        value = {
            "previous_quality_score": previous,
            "new_quality_score": quality,
            **_ids(template),
        }
        _emit(rt, template.waba_id, "message_template_quality_update", value, at)
    if quality != "RED" or template.status != "APPROVED":
        return
    template.pause_count += 1
    if template.pause_count > len(PAUSE_HOURS):
        template.paused_until = None
        _set_status(
            rt,
            template,
            "DISABLED",
            at,
            disable_info={"disable_date": int(at.timestamp())},
            other_info={
                "title": "DISABLED",
                "description": "Your WhatsApp message template has been disabled because "
                "it continued to receive negative feedback.",
            },
        )
        return
    hours = PAUSE_HOURS[template.pause_count - 1]
    template.paused_until = at + timedelta(hours=hours)
    title = "FIRST_PAUSE" if template.pause_count == 1 else "SECOND_PAUSE"
    until = template.paused_until.strftime("%b %d, %Y at %H:%M UTC")
    _set_status(
        rt,
        template,
        "PAUSED",
        at,
        other_info={
            "title": title,
            "description": f"Your WhatsApp message template has been paused for {hours} hours "
            f"until {until} because it continued to have issues.",
        },
    )


def _unpause(rt: Runtime, template: TemplateDef, at: datetime) -> None:
    template.paused_until = None
    _set_status(
        rt,
        template,
        "APPROVED",
        at,
        other_info={
            "title": "UNPAUSE",
            "description": "Your WhatsApp message template has been unpaused.",
        },
    )


def advance(rt: Runtime) -> int:
    """Everything the emulator clock has made due, in the order it fell due: reviews of
    PENDING templates and the ends of pauses. Returns how many happened."""
    now = rt.state.now()
    due: list[tuple[datetime, str, TemplateDef]] = []
    for template in rt.state.templates.values():
        if template.status == "PENDING" and template.review_due and template.review_due <= now:
            due.append((template.review_due, template.id, template))
        elif template.status == "PAUSED" and template.paused_until and template.paused_until <= now:
            due.append((template.paused_until, template.id, template))
    for at, _, template in sorted(due, key=lambda d: (d[0], d[1])):
        if template.status == "PENDING":
            review(rt, template, at)
        else:
            _unpause(rt, template, at)
    return len(due)


def review_now(rt: Runtime, waba_id: str | None = None) -> list[TemplateDef]:
    """Review every PENDING template (of one WABA, or all) at once."""
    now = rt.state.now()
    pending = [
        t
        for t in rt.state.templates.values()
        if t.status == "PENDING" and (waba_id is None or t.waba_id == waba_id)
    ]
    for template in pending:
        review(rt, template, now)
    return pending


def edit(rt: Runtime, template: TemplateDef, body: Any) -> None:
    """`POST /{template_id}`: new components and/or category, then review again."""
    state = rt.state
    now = state.now()
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    unknown = sorted(set(body) - {"category", "components"})
    if unknown:
        raise invalid(unknown[0], "cannot be edited")
    if not body:
        raise invalid("components", "give components and/or category to edit")
    if template.status not in EDITABLE:
        raise invalid(
            "status",
            f"only {', '.join(EDITABLE)} templates can be edited (this one is {template.status})",
        )
    category = body.get("category", template.category)
    if category not in CATEGORIES:
        raise invalid("category", f"must be one of {', '.join(CATEGORIES)}")
    if "components" in body:
        content = validate_components(body["components"], category, template.parameter_format)
    elif "AUTHENTICATION" in (category, template.category) and category != template.category:
        raise invalid("components", "are required to change to or from AUTHENTICATION")
    else:
        content = validate_components(
            [dict(c) for c in template.components] or [{"type": "BODY", "text": template.body}],
            category,
            template.parameter_format,
        )
    if template.status == "APPROVED":
        recent = [e for e in template.edits if now - e < EDIT_WINDOW]
        if len(recent) >= EDITS_PER_30_DAYS:
            raise invalid(
                "edit limit",
                f"an approved template can be edited {EDITS_PER_30_DAYS} times in 30 days",
            )
        if recent and now - recent[-1] < EDIT_GAP:
            raise invalid("edit limit", "an approved template can be edited once in 24 hours")
        template.edits = [*recent, now]
    template.category = category
    template.components = content.components
    template.body, template.header, template.buttons = (
        content.body,
        content.header,
        content.buttons,
    )
    template.paused_until = None
    template.review_due = now + timedelta(seconds=_waba(state, template.waba_id).review_delay)
    _record(template, now, "EDITED", category=category)
    _set_status(rt, template, "PENDING", now)


def delete(rt: Runtime, waba_id: str, name: str | None, hsm_id: str | None) -> int:
    """`DELETE /{waba_id}/message_templates?name=…[&hsm_id=…]`: every language of the name,
    or the one template with that id. A deleted approved name is kept from reuse 30 days."""
    state = rt.state
    if not name:
        raise invalid("name", "is required")
    doomed = [
        t
        for t in state.templates.values()
        if t.waba_id == waba_id and t.name == name and (hsm_id is None or t.id == hsm_id)
    ]
    if not doomed:
        raise invalid("name", f"no message template named {name!r}")
    for template in doomed:
        del state.templates[template.id]
        if template.status in ("APPROVED", "PAUSED", "DISABLED"):
            _waba(state, waba_id).deleted_names[name] = state.now()
    return len(doomed)


def describe(template: TemplateDef, *, full: bool = False) -> dict[str, Any]:
    """A template as the Graph API lists it (and, with `full`, its emulator bookkeeping)."""
    components = template.components or [{"type": "BODY", "text": template.body}]
    data: dict[str, Any] = {
        "id": template.id,
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "status": template.status,
        "parameter_format": template.parameter_format,
        "components": components,
        "quality_score": {"score": template.quality},
    }
    if template.rejection_reason:
        data["rejected_reason"] = template.rejection_reason
    if full:
        data.update(
            waba_id=template.waba_id,
            pause_count=template.pause_count,
            paused_until=template.paused_until.isoformat() if template.paused_until else None,
            review_due=template.review_due.isoformat() if template.review_due else None,
            edits=[e.isoformat() for e in template.edits],
            history=template.history,
        )
    return data
