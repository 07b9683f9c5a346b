"""Message templates as the business writes them: the validated definition of one template
(its languages, components, variables and where each came from in the file).

The models check structure only (types, unknown keys, required parts); whether the platform
would accept the wording and the limits is `threadline.templates.lint`'s job, so that a file
with problems still loads and every problem can be reported with its line. Reading the YAML
is `templates.parsing`, the create-template request `templates.graph_payload`, and the send
content with variables filled in `templates.sending`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

_STRICT = ConfigDict(extra="forbid")
VARIABLE = re.compile(r"\{\{([^{}]*)\}\}")
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2,4})?$")
Loc = tuple[str | int, ...]
Category = Literal["MARKETING", "UTILITY", "AUTHENTICATION"]
ParameterFormat = Literal["POSITIONAL", "NAMED"]


class TemplateSendError(ValueError):
    """A template that cannot be filled in for a send (missing value, unknown language)."""


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


# WhatsApp's customisable delivery TTL per category, in seconds (marketing: Marketing
# Messages API only).
TTL_RANGES: dict[str, tuple[int, int]] = {
    "AUTHENTICATION": (30, 900),
    "UTILITY": (30, 43_200),
    "MARKETING": (43_200, 2_592_000),
}


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
    # How long WhatsApp keeps trying to deliver a message of this template; past it the
    # message is dropped, which is what lets a fallback to another channel never double it.
    message_send_ttl_seconds: int | None = None

    _origin: str = PrivateAttr(default="<memory>")
    _lines: dict[Loc, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _ttl_in_range(self) -> TemplateDefinition:
        ttl = self.message_send_ttl_seconds
        low, high = TTL_RANGES[self.category]
        if ttl is not None and not low <= ttl <= high:
            raise ValueError(
                f"message_send_ttl_seconds of a {self.category} template must be {low} to "
                f"{high} seconds, not {ttl}"
            )
        return self

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

    def record_origin(self, origin: str, lines: dict[Loc, int]) -> None:
        """Called by the loader: the file, and the line of each place inside the template."""
        self._origin = origin
        self._lines = lines

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
