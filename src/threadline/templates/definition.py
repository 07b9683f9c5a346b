"""Message templates as the business writes them: YAML files → validated definitions, the
platform's create-template request body, and the send content with variables filled in.

The models check structure only (types, unknown keys, required parts); whether the platform
would accept the wording and the limits is `threadline.templates.lint`'s job, so that a file
with problems still loads and every problem can be reported with its line."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from threadline.channels import messages as m

# libyaml when present; both are safe loaders and keep line marks.
_SAFE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BOOL = "tag:yaml.org,2002:bool"


class _Loader(_SAFE):  # type: ignore[misc]
    """YAML 1.2 booleans: only true/false. `payload: YES` or `text: No` stay text."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, Any]]]] = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL]
        for first, resolvers in _SAFE.yaml_implicit_resolvers.items()
    }


_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_LOADER: Any = _Loader
_STRICT = ConfigDict(extra="forbid")
VARIABLE = re.compile(r"\{\{([^{}]*)\}\}")
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2,4})?$")
Loc = tuple[str | int, ...]
Category = Literal["MARKETING", "UTILITY", "AUTHENTICATION"]
ParameterFormat = Literal["POSITIONAL", "NAMED"]


def variables_in(text: str | None) -> list[str]:
    """The raw contents of each `{{...}}` in order of appearance (`1`, `first_name`, ...)."""
    return VARIABLE.findall(text or "")


def _scalar_text(value: Any) -> Any:
    # YAML reads `example: 10` as a number; in a template it is text.
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    return value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


Text = Annotated[str, BeforeValidator(_scalar_text)]


# ---------------------------------------------------------------- models


class Variable(BaseModel):
    """Where a variable's value comes from when sending, and its example for review."""

    model_config = _STRICT

    field: str | None = Field(default=None, description="Contact field, e.g. first_name")
    value: Text | None = Field(default=None, description="A fixed value")
    default: Text | None = Field(default=None, description="Used when the field is empty")
    example: Text | None = Field(default=None, description="Sample shown to the platform")

    @model_validator(mode="after")
    def _one_source(self) -> Variable:
        if self.field is not None and self.value is not None:
            raise ValueError("give field or value, not both")
        return self


def _variables(value: Any) -> Any:
    """A list means {{1}}, {{2}}...; a mapping is keyed by number or name."""
    if isinstance(value, list):
        return {str(i): item for i, item in enumerate(value, start=1)}
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    return value


Variables = Annotated[dict[str, Variable], BeforeValidator(_variables)]


class TextHeader(BaseModel):
    model_config = _STRICT
    type: Literal["text"]
    text: Text
    variables: Variables = Field(default_factory=dict)


class MediaHeader(BaseModel):
    model_config = _STRICT
    type: Literal["image", "video", "document"]
    example: Text | None = Field(
        default=None, description="Upload handle (or sample URL) shown to the platform's review"
    )
    variable: Variable | None = Field(
        default=None, description="The media to send: a link (http...) or a media id"
    )
    filename: Text | None = None


class LocationValue(BaseModel):
    model_config = _STRICT
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: Text | None = None
    address: Text | None = None


class LocationHeader(BaseModel):
    model_config = _STRICT
    type: Literal["location"]
    location: LocationValue | None = Field(default=None, description="Sent unless overridden")


Header = Annotated[TextHeader | MediaHeader | LocationHeader, Field(discriminator="type")]


class Body(BaseModel):
    model_config = _STRICT
    text: Text | None = None
    variables: Variables = Field(default_factory=dict)


class Footer(BaseModel):
    model_config = _STRICT
    text: Text


class QuickReply(BaseModel):
    model_config = _STRICT
    type: Literal["quick_reply"]
    text: Text
    payload: Text | None = Field(default=None, description="Returned when tapped")


class UrlButton(BaseModel):
    model_config = _STRICT
    type: Literal["url"]
    text: Text
    url: Text
    variable: Variable | None = Field(default=None, description="The suffix for {{1}}")


class PhoneButton(BaseModel):
    model_config = _STRICT
    type: Literal["phone_number"]
    text: Text
    phone_number: Text


class CopyCodeButton(BaseModel):
    model_config = _STRICT
    type: Literal["copy_code"]
    variable: Variable | None = Field(default=None, description="The code (example ≤15)")


class SupportedApp(BaseModel):
    model_config = _STRICT
    package_name: Text
    signature_hash: Text


class OtpButton(BaseModel):
    model_config = _STRICT
    type: Literal["otp"]
    otp_type: Annotated[Literal["COPY_CODE", "ONE_TAP", "ZERO_TAP"], BeforeValidator(_upper)]
    text: Text | None = None
    autofill_text: Text | None = None
    supported_apps: list[SupportedApp] = Field(default_factory=list)
    zero_tap_terms_accepted: bool | None = None


Button = Annotated[
    QuickReply | UrlButton | PhoneButton | CopyCodeButton | OtpButton,
    Field(discriminator="type"),
]


class Components(BaseModel):
    model_config = _STRICT
    header: Header | None = None
    body: Body = Field(default_factory=Body)
    footer: Footer | None = None
    buttons: list[Button] = Field(default_factory=list)


class AuthenticationOptions(BaseModel):
    model_config = _STRICT
    add_security_recommendation: bool = False
    code_expiration_minutes: int | None = Field(default=None, ge=1, le=90)


class TemplateDefinition(BaseModel):
    """One template in one or more languages."""

    model_config = _STRICT

    name: Text
    category: Annotated[Category, BeforeValidator(_upper)]
    parameter_format: Annotated[ParameterFormat, BeforeValidator(_upper)] = "POSITIONAL"
    language: str | None = None
    components: Components | None = None
    languages: dict[str, Components] | None = None
    authentication: AuthenticationOptions | None = None

    _origin: str = PrivateAttr(default="<memory>")
    _lines: dict[Loc, int] = PrivateAttr(default_factory=dict)

    @field_validator("language")
    @classmethod
    def _language_code(cls, value: str | None) -> str | None:
        if value is not None and not LANGUAGE_CODE.match(value):
            raise ValueError(f"'{value}' is not a language code like en or en_US")
        return value

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: dict[str, Components] | None) -> dict[str, Components] | None:
        for code in value or {}:
            if not LANGUAGE_CODE.match(code):
                raise ValueError(f"'{code}' is not a language code like en or en_US")
        if value is not None and not value:
            raise ValueError("languages needs at least one language")
        return value

    @model_validator(mode="after")
    def _one_layout(self) -> TemplateDefinition:
        if self.languages is not None:
            if self.language is not None or self.components is not None:
                raise ValueError("give either language with components, or languages; not both")
        elif self.language is None or self.components is None:
            raise ValueError("give language with components, or languages (language → components)")
        if self.authentication is not None and self.category != "AUTHENTICATION":
            raise ValueError("authentication options are for AUTHENTICATION templates only")
        return self

    # -- languages

    def localized(self) -> dict[str, Components]:
        """Components per language, in file order."""
        if self.languages is not None:
            return dict(self.languages)
        assert self.language is not None and self.components is not None
        return {self.language: self.components}

    def base(self, language: str) -> Loc:
        """Where a language's components sit inside the template, as a YAML path."""
        return ("languages", language) if self.languages is not None else ("components",)

    def components_for(self, language: str | None = None) -> tuple[str, Components]:
        localized = self.localized()
        if language is None:
            if len(localized) > 1:
                raise TemplateSendError(
                    f"template {self.name} has several languages "
                    f"({', '.join(localized)}); say which"
                )
            language = next(iter(localized))
        if language not in localized:
            raise TemplateSendError(
                f"template {self.name} has no {language} version (it has {', '.join(localized)})"
            )
        return language, localized[language]

    # -- where it came from

    @property
    def origin(self) -> str:
        return self._origin

    def line_of(self, where: str | Loc = ()) -> int | None:
        """The file line of a place in this template (dotted path or tuple); the nearest
        enclosing line that the file has when the place itself is absent."""
        path: Loc = tuple(_loc(where)) if isinstance(where, str) else where
        found = self._lines.get(())
        walked: Loc = ()
        for part in path:
            # `variables.1` is a mapping key (text) in one file and a list index in another
            options = (part, str(part)) if isinstance(part, int) else (part,)
            step = next(((*walked, o) for o in options if (*walked, o) in self._lines), None)
            if step is None:
                break
            walked = step
            found = self._lines[walked]
        return found


def _loc(dotted: str) -> Iterator[str | int]:
    for part in dotted.split(".") if dotted else ():
        yield int(part) if part.isdigit() else part


# ---------------------------------------------------------------- loading


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}{f':{self.line}' if self.line else ''}: {self.message}"


class TemplateFileError(Exception):
    """A template file that cannot be read or does not match the format."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


class TemplateSendError(ValueError):
    """A template that cannot be filled in for a send (missing value, unknown language)."""


def _lines(node: yaml.Node, path: Loc, into: dict[Loc, int]) -> None:
    into[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            _lines(value, child, into)
            into[child] = key.start_mark.line + 1  # a key's own line, not its value's
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*path, index), into)


def _readable(loc: Loc, lines: Mapping[Loc, int]) -> tuple[str, Loc]:
    """A pydantic location as the YAML path the author wrote: union tags are dropped, a
    missing last key is kept."""
    path: Loc = ()
    for i, part in enumerate(loc):
        if (*path, part) in lines or i == len(loc) - 1:
            path = (*path, part)
    return ".".join(str(p) for p in path), path


def _nearest_line(path: Loc, lines: Mapping[Loc, int]) -> int | None:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path)


def _relative(lines: Mapping[Loc, int], base: Loc) -> dict[Loc, int]:
    return {loc[len(base) :]: line for loc, line in lines.items() if loc[: len(base)] == base}


def parse(text: str, origin: str) -> list[TemplateDefinition]:
    """Templates from YAML text: one template mapping, or a list under `templates:`."""
    try:
        composed = yaml.compose(text, Loader=_LOADER)
        raw = yaml.load(text, Loader=_LOADER)  # a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = str(getattr(exc, "problem", None) or exc).strip()
        raise TemplateFileError([Problem(origin, line, f"not valid YAML: {problem}")]) from exc
    if composed is None or not isinstance(raw, dict):
        raise TemplateFileError(
            [Problem(origin, 1, "a template file is a template mapping or `templates:` list")]
        )
    lines: dict[Loc, int] = {}
    _lines(composed, (), lines)
    if "templates" in raw:
        items = raw["templates"]
        if set(raw) != {"templates"} or not isinstance(items, list) or not items:
            raise TemplateFileError(
                [
                    Problem(
                        origin,
                        lines.get(("templates",), 1),
                        "`templates:` is a non-empty list, alone in the file",
                    )
                ]
            )
        entries: list[tuple[Loc, Any]] = [(("templates", i), item) for i, item in enumerate(items)]
    else:
        entries = [((), raw)]
    found: list[TemplateDefinition] = []
    problems: list[Problem] = []
    for base, item in entries:
        relative = _relative(lines, base)
        try:
            defn = TemplateDefinition.model_validate(item)
        except ValidationError as exc:
            name = item.get("name") if isinstance(item, dict) else None
            prefix = f"template {name}: " if isinstance(name, str) else ""
            for error in exc.errors():
                readable, path = _readable(tuple(error["loc"]), relative)
                message = error["msg"].removeprefix("Value error, ")
                line = _nearest_line(path, relative)
                problems.append(
                    Problem(origin, line, f"{prefix}{readable or 'template'}: {message}")
                )
            continue
        defn._origin = origin
        defn._lines = relative
        found.append(defn)
    seen: dict[tuple[str, str], int | None] = {}
    for defn in found:
        for language in defn.localized():
            key = (defn.name, language)
            if key in seen:
                problems.append(
                    Problem(
                        origin,
                        defn.line_of(),
                        f"template {defn.name}: {language} is defined twice "
                        f"(first at line {seen[key]})",
                    )
                )
            seen.setdefault(key, defn.line_of())
    if problems:
        raise TemplateFileError(sorted(problems, key=lambda p: p.line or 0))
    return found


def load_file(path: Path | str) -> list[TemplateDefinition]:
    """The templates in one YAML file; problems name the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TemplateFileError([Problem(str(path), None, f"cannot read: {reason}")]) from exc
    return parse(text, str(path))


# ---------------------------------------------------------------- the create request


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


# ---------------------------------------------------------------- sending


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


def texts(parts: Components) -> Iterable[tuple[Loc, str]]:
    """Every piece of wording in a language's components, with its path below them."""
    if isinstance(parts.header, TextHeader):
        yield ("header", "text"), parts.header.text
    if parts.body.text is not None:
        yield ("body", "text"), parts.body.text
    if parts.footer is not None:
        yield ("footer", "text"), parts.footer.text
    for index, button in enumerate(parts.buttons):
        label = getattr(button, "text", None)
        if isinstance(label, str):
            yield ("buttons", index, "text"), label
