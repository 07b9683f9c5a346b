"""The conversation-test file format: YAML scripts that talk to a flow, their models, and how
they are read (line numbers for errors, YAML 1.2 scalars) and found.

A test file is any YAML file with a top-level `tests:` list::

    flow: support_triage                 # key of the flow under test
    contact: {name: Ana, fields: {email: ana@example.com}, tags: [vip]}
    channel: whatsapp
    start: {trigger: keyword, params: {}}
    webhooks:
      "GET https://shop.example/orders/*": {status: 200, json: {status: shipped}}
    tests:
      - name: shipping question
        steps:
          - expect: {says: "What can I help", list: [Shipping, Returns]}
          - user: shipping                # or {tap: shipping}
          - expect: {says: "business days"}

The conversation starts (the `start` event) before the first step. A step either acts — `user`,
`wait` (`timeout` or a duration), `agent` (`hand_back` or `close`) — or checks (`expect`) what
the bot did since the last act and where the conversation stands. docs/flows.md has the rest;
`flows/testing.py` runs the scripts."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from threadline.channels.kinds import Channel
from threadline.flows import format as f
from threadline.flows.loader import FAST_LOADER, flow_files
from threadline.flows.state import ContactView, Status, WebhookDone

# A Monday, 10:00 UTC: `hours` and `weekdays` conditions give the same answer on every run.
DEFAULT_NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DURATION: TypeAdapter[timedelta] = TypeAdapter(f.Duration)

# ---------------------------------------------------------------- the test file format


class _Strict(BaseModel):
    # Numbers become text where text is expected: `user: 5` is what a person types.
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, coerce_numbers_to_str=True
    )


class ContactSpec(_Strict):
    name: str = "Test Contact"
    fields: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    interests: list[str] = Field(default_factory=list)
    timezone: str | None = None
    region: str | None = None
    events: list[str] = Field(
        default_factory=list, description="contact event kinds, seen an hour before the start"
    )

    def view(self, now: datetime) -> ContactView:
        return ContactView(
            name=self.name,
            fields=dict(self.fields),
            tags=frozenset(self.tags),
            interests=frozenset(self.interests),
            timezone=self.timezone,
            region=self.region,
            events=tuple((kind, now - timedelta(hours=1)) for kind in self.events),
        )


class StartSpec(_Strict):
    trigger: str = "keyword"
    params: dict[str, Any] = Field(default_factory=dict)


class StubSpec(_Strict):
    """The answer a stubbed webhook gives."""

    status: int = 200
    json_: Any = Field(default=None, alias="json")
    error: str | None = Field(
        default=None, description="no answer at all, e.g. 'timeout' or 'connection refused'"
    )

    def answer(self) -> WebhookDone:
        if self.error is not None:
            return WebhookDone(status=None, error=self.error)
        return WebhookDone(status=self.status, body=self.json_)


class HandoffExpect(_Strict):
    team: str | None = None
    summary: str | None = Field(default=None, description="a part of the ticket's summary")


class Expect(_Strict):
    """What must be true after the last act. Message checks look at what the bot sent since
    then; state checks (node, field, tags, answer, outcome, status, score) at the session."""

    says: str | list[str] | None = Field(default=None, description="substrings, any case")
    buttons: list[str] | None = None
    list_: list[str] | None = Field(default=None, alias="list")
    numbered: list[str] | None = None
    cta: str | None = Field(default=None, description="the display text of a link button")
    template: str | None = Field(
        default=None, description="the template sent if the window is closed"
    )
    no_reply: bool | None = None
    node: str | None = None
    webhook: str | None = Field(default=None, description="'METHOD URL' glob of a call made")
    field: dict[str, Any] | None = None
    tags: list[str] | None = None
    no_tags: list[str] | None = None
    answer: dict[str, Any] | None = None
    handoff: bool | HandoffExpect | None = None
    outcome: f.Outcome | None = None
    status: Status | None = None
    score: float | None = None
    csat: int | None = None

    @model_validator(mode="after")
    def _checks_something(self) -> Expect:
        if not self.model_fields_set:
            raise ValueError("expect needs at least one check")
        return self


class Tap(_Strict):
    tap: str = Field(description="the id (or title) of a button or list row the bot offered")


class StepSpec(_Strict):
    expect: Expect | None = None
    user: str | Tap | None = None
    wait: str | None = Field(default=None, description="'timeout', or a duration like 2h")
    agent: Literal["hand_back", "close"] | None = None

    @field_validator("user", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: Any) -> Any:
        # `user: true` is the word the person typed (test files read yes/no as text already).
        return str(value).lower() if isinstance(value, bool) else value

    @model_validator(mode="after")
    def _one_kind(self) -> StepSpec:
        given = [k for k in ("expect", "user", "wait", "agent") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a step is exactly one of expect, user, wait, agent")
        if self.wait is not None and self.wait != "timeout":
            try:
                DURATION.validate_python(self.wait)
            except ValidationError:
                raise ValueError("wait is `timeout` or a duration like 30m, 2h, 1d") from None
        return self


class Conversation(_Strict):
    """One test: the file's settings, overridden by any given here."""

    name: str
    channel: Channel | None = None
    contact: ContactSpec | None = Field(default=None, description="keys replace the file's")
    start: StartSpec | None = None
    webhooks: dict[str, StubSpec] = Field(
        default_factory=dict, description="matched before the file's"
    )
    steps: list[StepSpec] = Field(min_length=1)


class ConversationFile(_Strict):
    flow: str = Field(description="flow key, or a path to the flow file relative to this one")
    contact: ContactSpec = Field(default_factory=ContactSpec)
    channel: Channel = Channel.WHATSAPP
    start: StartSpec = Field(default_factory=StartSpec)
    now: AwareDatetime = DEFAULT_NOW
    webhooks: dict[str, StubSpec] = Field(default_factory=dict)
    tests: list[Conversation] = Field(min_length=1)


# ---------------------------------------------------------------- reading a file


class ScriptLoader(yaml.SafeLoader):
    """YAML 1.2 scalars for test files: `yes`, `no`, `on`, `off` and 2026-03-03 stay text, as
    the person typed them or the button shows them; only true/false are booleans."""


ScriptLoader.yaml_implicit_resolvers = {
    first: [
        (tag, pattern)
        for tag, pattern in resolvers
        if tag not in {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp"}
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ScriptLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class BrokenFile(Exception):
    """A test file that cannot run at all (bad YAML, flow not found, flow invalid)."""


def _line_map(text: str) -> dict[tuple[str | int, ...], int]:
    lines: dict[tuple[str | int, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[(*path, str(key.value))] = key.start_mark.line + 1
                walk(value, (*path, str(key.value)))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    composed = yaml.compose(text, Loader=yaml.SafeLoader)
    if composed is not None:
        walk(composed, ())
    return lines


def read_script(path: Path) -> tuple[ConversationFile, dict[tuple[str | int, ...], int]]:
    """A test file, and the line of each key path in it (for errors and failures)."""
    try:
        text = path.read_text(encoding="utf-8")
        lines = _line_map(text)
        data = yaml.load(text, Loader=ScriptLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BrokenFile(f"cannot read: {exc}") from exc
    try:
        return ConversationFile.model_validate(data), lines
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            known: tuple[str | int, ...] = ()
            for part in error["loc"]:
                if (*known, part) in lines:  # other parts are pydantic's union branch names
                    known = (*known, part)
            where = f"line {lines[known]}: " if known in lines and known else ""
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}{'.'.join(map(str, known)) or 'file'}: {message}")
        raise BrokenFile("not a valid conversation test:\n  " + "\n  ".join(problems)) from exc


# ---------------------------------------------------------------- finding files


# libyaml when present: discovery reads every YAML file under a folder, catalogs included.
_FAST_LOADER: Any = FAST_LOADER


def _top_level(path: Path) -> dict[str, Any] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return _parsed(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=512)
def _parsed(path: Path, _mtime: int, _size: int) -> dict[str, Any] | None:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_FAST_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def flow_key(path: Path) -> str | None:
    key = (_top_level(path) or {}).get("flow")
    return key if isinstance(key, str) else None


def is_conversation_test(path: Path) -> bool:
    top = _top_level(path)
    return top is not None and "tests" in top


def flow_paths(path: Path) -> list[Path]:
    """Flow files under a path. Conversation tests also have a top-level `flow:` key, which
    `loader.flow_files` takes for a flow; they are left out here."""
    return [p for p in flow_files(path) if not is_conversation_test(p)]


def conversation_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [p for p in sorted(path.rglob("*.y*ml")) if is_conversation_test(p)]
