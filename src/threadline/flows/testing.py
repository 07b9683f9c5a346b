"""Conversation tests: YAML scripts that talk to a flow through the pure engine and check
what the bot says and does. No database and no network: webhook calls are answered by stubs.

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
the bot did since the last act and where the conversation stands. docs/flows.md has the rest."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
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

from threadline.channels import messages as m
from threadline.channels.choices import plain
from threadline.flows import format as f
from threadline.flows.engine import new_session, step
from threadline.flows.expressions import lookup
from threadline.flows.loader import FAST_LOADER, Flow, FlowError, flow_files, load_path
from threadline.flows.session import (
    Action,
    CallWebhook,
    Close,
    ContactView,
    Event,
    HandBack,
    OpenTicket,
    RecordCsat,
    Reply,
    Send,
    Session,
    Start,
    Status,
    Timeout,
    WebhookDone,
)
from threadline.kit.clock import Clock, FrozenClock
from threadline.policy.types import Channel

# A Monday, 10:00 UTC: `hours` and `weekdays` conditions give the same answer on every run.
DEFAULT_NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
MAX_WEBHOOK_CALLS = 50  # per event; validation does not see loops through webhooks
_DURATION: TypeAdapter[timedelta] = TypeAdapter(f.Duration)
_NUMBERED = re.compile(r"^\s*(\d+)\.\s+(.+?)\s*$")

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
                _DURATION.validate_python(self.wait)
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


# ---------------------------------------------------------------- finding files


# libyaml when present: discovery reads every YAML file under a folder, catalogs included.
_FAST_LOADER: Any = FAST_LOADER


class _ScriptLoader(yaml.SafeLoader):
    """YAML 1.2 scalars for test files: `yes`, `no`, `on`, `off` and 2026-03-03 stay text, as
    the person typed them or the button shows them; only true/false are booleans."""


_ScriptLoader.yaml_implicit_resolvers = {
    first: [
        (tag, pattern)
        for tag, pattern in resolvers
        if tag not in {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp"}
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ScriptLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


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


class _Broken(Exception):
    """A test file that cannot run at all (bad YAML, flow not found, flow invalid)."""


class _Flows:
    """Flow files near test files, each indexed and compiled once per run."""

    def __init__(self) -> None:
        self._index: dict[Path, dict[str, list[Path]]] = {}
        self._compiled: dict[Path, Flow | FlowError] = {}

    def keys_under(self, folder: Path) -> dict[str, list[Path]]:
        if folder not in self._index:
            index: dict[str, list[Path]] = {}
            for path in flow_paths(folder):
                index.setdefault(str(flow_key(path)), []).append(path)
            self._index[folder] = index
        return self._index[folder]

    def find(self, key: str, test_file: Path) -> Path:
        if key.endswith((".yaml", ".yml")):
            path = test_file.parent / key
            if not path.is_file():
                raise _Broken(f"flow file {path} not found")
            return path
        # The test's folder first, then its parent: tests usually sit in a tests/ folder
        # beside the flows they test.
        folders = [test_file.parent, test_file.parent.parent]
        for folder in folders:
            found = self.keys_under(folder).get(key, [])
            if len(found) > 1:
                raise _Broken(
                    f"flow {key} is defined in several files: " + ", ".join(map(str, found))
                )
            if found:
                return found[0]
        raise _Broken(f"no flow file with `flow: {key}` under {folders[0]} or {folders[1]}")

    def load(self, path: Path) -> Flow:
        if path not in self._compiled:
            try:
                self._compiled[path] = load_path(path)
            except FlowError as exc:
                self._compiled[path] = exc
        compiled = self._compiled[path]
        if isinstance(compiled, FlowError):
            raise _Broken(f"the flow does not validate:\n{compiled}")
        return compiled


# ---------------------------------------------------------------- webhook stubs


_HAS_METHOD = re.compile(r"^[A-Z]+\s")


@dataclass(frozen=True)
class Stubs:
    """Webhook answers by route: a glob on "METHOD URL" (a route without a method matches any
    method). The first matching route answers."""

    routes: tuple[tuple[str, StubSpec], ...] = ()

    @classmethod
    def of(cls, *mappings: Mapping[str, StubSpec]) -> Stubs:
        return cls(tuple((route, stub) for mapping in mappings for route, stub in mapping.items()))

    @classmethod
    def load(cls, path: Path) -> Stubs:
        """A stub file: a `webhooks:` mapping (a conversation test file will do) or the mapping
        itself."""
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_ScriptLoader)
        if isinstance(data, dict) and isinstance(data.get("webhooks"), dict):
            data = data["webhooks"]
        return cls.of(TypeAdapter(dict[str, StubSpec]).validate_python(data or {}))

    def match(self, call: CallWebhook) -> StubSpec | None:
        said = f"{call.method} {call.url}"
        for route, stub in self.routes:
            pattern = route.strip() if _HAS_METHOD.match(route) else f"* {route.strip()}"
            if fnmatchcase(said, " ".join(pattern.split(None, 1))):
                return stub
        return None


class Unstubbed(Exception):
    def __init__(self, call: CallWebhook) -> None:
        super().__init__(f"{call.method} {call.url}")
        self.call = call


WebhookAnswer = Callable[[CallWebhook], WebhookDone]


def advance(
    flow: Flow, session: Session, event: Event, clock: Clock, answer: WebhookAnswer
) -> tuple[Session, list[Action]]:
    """One event, then every webhook call it leads to answered straight away (a test or a
    simulation has no worker to wait for)."""
    session, actions = step(flow, session, event, clock)
    collected = list(actions)
    for _ in range(MAX_WEBHOOK_CALLS):
        calls = [a for a in actions if isinstance(a, CallWebhook)]
        if session.status != "webhook" or not calls:
            return session, collected
        session, actions = step(flow, session, answer(calls[-1]), clock)
        collected += actions
    raise RuntimeError(f"more than {MAX_WEBHOOK_CALLS} webhook calls after one event")


# ---------------------------------------------------------------- what the bot did, as text


def describe(content: m.Content) -> str:
    """A message as plain text, with its buttons, list rows or link."""
    if isinstance(content, m.Text):
        return content.body
    if isinstance(content, m.Buttons):
        return content.body + "\n" + "  ".join(f"[{b.title}]" for b in content.buttons)
    if isinstance(content, m.ListMessage):
        rows = [
            f"  • {r.title}" + (f" — {r.description}" if r.description else "")
            for section in content.sections
            for r in section.rows
        ]
        return "\n".join([content.body, f"[{content.button} ☰]", *rows])
    if isinstance(content, m.Media):
        head = f"[{content.kind}] {content.link or content.media_id or ''}".rstrip()
        return head + (f"\n{content.caption}" if content.caption else "")
    if isinstance(content, m.CtaUrl):
        return f"{content.body}\n[{content.display_text} → {content.url}]"
    if isinstance(content, m.Template):
        return f"[template {content.name}]"
    return f"[{content.type}]"


def offered(content: m.Content) -> list[tuple[str, str]]:
    """(id, title) of the buttons or list rows a message offers."""
    if isinstance(content, m.Buttons):
        return [(b.id, b.title) for b in content.buttons]
    if isinstance(content, m.ListMessage):
        return [(r.id, r.title) for section in content.sections for r in section.rows]
    return []


def numbered(content: m.Content) -> list[str]:
    """Titles of the numbered options in a text (what precedes ' — ', e.g. a price)."""
    if not isinstance(content, m.Text):
        return []
    found = (_NUMBERED.match(line) for line in content.body.splitlines())
    return [hit.group(2).split(" — ")[0] for hit in found if hit]


def transcript(actions: Sequence[Action]) -> str:
    sent = [describe(a.content) for a in actions if isinstance(a, Send)]
    if not sent:
        return "  (nothing)"
    return "\n".join("  | " + line for text in sent for line in text.splitlines())


# ---------------------------------------------------------------- checking


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return float(actual) == float(expected)
    if isinstance(actual, int | float | str) and isinstance(expected, int | float | str):
        shown = (
            str(int(actual)) if isinstance(actual, float) and actual.is_integer() else str(actual)
        )
        return shown == str(expected)
    return bool(actual == expected)


def _shown(items: Sequence[object]) -> str:
    return json.dumps(list(items), ensure_ascii=False, default=str)


def check(expect: Expect, turn: Sequence[Action], session: Session) -> list[str]:
    """What did not hold, one phrase each (an empty list when everything did)."""
    sends = [a.content for a in turn if isinstance(a, Send)]
    problems: list[str] = []
    texts = [describe(c).casefold() for c in sends]
    says = [expect.says] if isinstance(expect.says, str) else expect.says or []
    problems += [f'the bot to say "{s}"' for s in says if not any(s.casefold() in t for t in texts)]
    options = {
        "buttons": (expect.buttons, [offered(c) for c in sends if isinstance(c, m.Buttons)]),
        "list rows": (expect.list_, [offered(c) for c in sends if isinstance(c, m.ListMessage)]),
    }
    for kind, (wanted, seen) in options.items():
        titles = [[title for _id, title in offer] for offer in seen]
        if wanted is not None and wanted not in titles:
            problems.append(
                f"{kind} {_shown(wanted)} (shown: {_shown(titles) if titles else 'none'})"
            )
    lines = [n for c in sends if (n := numbered(c))]
    if expect.numbered is not None and expect.numbered not in lines:
        problems.append(f"numbered options {_shown(expect.numbered)} (shown: {_shown(lines)})")
    ctas = [c.display_text for c in sends if isinstance(c, m.CtaUrl)]
    if expect.cta is not None and expect.cta not in ctas:
        problems.append(f"a link button {expect.cta!r} (link buttons: {_shown(ctas)})")
    names = [a.template.name for a in turn if isinstance(a, Send) and a.template is not None]
    if expect.template is not None and expect.template not in names:
        problems.append(f"closed-window template {expect.template!r} (templates: {_shown(names)})")
    if expect.no_reply is not None and expect.no_reply == bool(sends):
        problems.append("no reply" if expect.no_reply else "a reply")
    calls = [f"{a.method} {a.url}" for a in turn if isinstance(a, CallWebhook)]
    if expect.webhook is not None and not any(fnmatchcase(c, expect.webhook) for c in calls):
        problems.append(f"a webhook call {expect.webhook} (calls: {_shown(calls)})")
    problems += _state(expect, session)
    problems += _handoff(expect.handoff, [a for a in turn if isinstance(a, OpenTicket)])
    scores = [a.score for a in turn if isinstance(a, RecordCsat)]
    if expect.csat is not None and expect.csat not in scores:
        problems.append(f"csat {expect.csat} recorded (recorded: {_shown(scores)})")
    return problems


def _state(expect: Expect, session: Session) -> list[str]:
    problems: list[str] = []
    if expect.node is not None and session.node != expect.node:
        problems.append(f"to be at node {expect.node} (it is at {session.node})")
    for name, value in (expect.field or {}).items():
        actual = session.contact.fields.get(name)
        if not _same(actual, value):
            problems.append(f"field {name} = {value!r} (it is {actual!r})")
    tags = sorted(session.contact.tags)
    if missing := [t for t in expect.tags or [] if t not in tags]:
        problems.append(f"tags {_shown(missing)} (tags: {_shown(tags)})")
    if unwanted := [t for t in expect.no_tags or [] if t in tags]:
        problems.append(f"no tags {_shown(unwanted)} (tags: {_shown(tags)})")
    for name, value in (expect.answer or {}).items():
        actual = lookup(session, f"answers.{name}")
        if not _same(actual, value):
            problems.append(f"answer {name} = {value!r} (it is {actual!r})")
    if expect.outcome is not None and session.outcome != expect.outcome:
        problems.append(
            f"outcome {expect.outcome} (status {session.status}, outcome {session.outcome})"
        )
    if expect.status is not None and session.status != expect.status:
        problems.append(f"status {expect.status} (it is {session.status})")
    if expect.score is not None and abs(session.score - expect.score) > 1e-9:
        problems.append(f"score {expect.score:g} (it is {session.score:g})")
    return problems


def _handoff(expected: bool | HandoffExpect | None, tickets: list[OpenTicket]) -> list[str]:
    if expected is None:
        return []
    if expected is False:
        return [f"no handoff (a ticket went to {tickets[0].team})"] if tickets else []
    if not tickets:
        return ["a handoff to a person (no ticket was opened)"]
    if isinstance(expected, HandoffExpect):
        ticket = tickets[-1]
        if expected.team is not None and ticket.team != expected.team:
            return [f"a handoff to team {expected.team} (it went to {ticket.team})"]
        if (
            expected.summary is not None
            and expected.summary.casefold() not in ticket.summary.casefold()
        ):
            return [f"a ticket summary with {expected.summary!r} (it is {ticket.summary!r})"]
    return []


# ---------------------------------------------------------------- running


@dataclass(frozen=True)
class Failure:
    step: int | None  # 1-based; None before the first step (the start)
    line: int | None
    message: str

    def __str__(self) -> str:
        where = "at the start" if self.step is None else f"step {self.step}"
        return where + (f" (line {self.line})" if self.line else "") + f": {self.message}"


@dataclass(frozen=True)
class Result:
    file: Path
    name: str
    line: int | None
    failure: Failure | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    broken: list[tuple[Path, str]] = field(default_factory=list)  # files that could not run
    files: list[Path] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return bool(self.results) and not self.failed and not self.broken

    def __str__(self) -> str:
        lines = [f"{path}: {message}" for path, message in self.broken]
        for result in self.results:
            if result.failure is not None:
                lines.append(f"{result.file} › {result.name}: {result.failure}")
        lines.append(f"{self.passed} passed, {self.failed} failed, {len(self.broken)} broken")
        return "\n".join(lines)


class _StepError(Exception):
    pass


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


def _read(path: Path) -> tuple[ConversationFile, dict[tuple[str | int, ...], int]]:
    try:
        text = path.read_text(encoding="utf-8")
        lines = _line_map(text)
        data = yaml.load(text, Loader=_ScriptLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise _Broken(f"cannot read: {exc}") from exc
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
        raise _Broken("not a valid conversation test:\n  " + "\n  ".join(problems)) from exc


def _tap(tap: Tap, offer: list[tuple[str, str]]) -> Reply:
    for choice_id, title in offer:
        if choice_id == tap.tap:
            return Reply(text=title, payload=choice_id, kind="interactive")
    for choice_id, title in offer:
        if plain(title) == plain(tap.tap):
            return Reply(text=title, payload=choice_id, kind="interactive")
    if not offer:
        raise _StepError(
            f"tap {tap.tap}: the bot has offered no buttons or list rows (on channels without "
            'them choices are numbered text: answer with user: "2")'
        )
    listed = ", ".join(f"{i} ({t})" for i, t in offer)
    raise _StepError(f"tap {tap.tap}: the last buttons or rows offered were {listed}")


def _event(
    spec: StepSpec, session: Session, clock: FrozenClock, offer: list[tuple[str, str]]
) -> Event:
    if spec.user is not None:
        if not session.active:
            raise _StepError(
                f"the conversation has ended ({session.outcome}); nothing reads {spec.user!r}"
            )
        return _tap(spec.user, offer) if isinstance(spec.user, Tap) else Reply(text=spec.user)
    if spec.agent is not None:
        if session.status != "handoff":
            raise _StepError(
                f"agent {spec.agent}: no agent has the conversation (status {session.status})"
            )
        return HandBack() if spec.agent == "hand_back" else Close()
    if spec.wait == "timeout":
        if session.wait is None:
            raise _StepError(f"wait timeout: nothing is waiting (status {session.status})")
        clock.set(max(clock.now(), session.wait.deadline))
        return Timeout()
    assert spec.wait is not None
    clock.advance(_DURATION.validate_python(spec.wait))
    return Timeout()  # ignored by the engine unless a deadline has passed


def _explain(problems: list[str], turn: Sequence[Action], session: Session) -> str:
    wanted = (
        f" {problems[0]}" if len(problems) == 1 else ":" + "".join(f"\n    - {p}" for p in problems)
    )
    where = f"now at node {session.node}, status {session.status}"
    if session.outcome:
        where += f": {session.outcome}" + (f", {session.end_reason}" if session.end_reason else "")
    return f"expected{wanted}\n  the bot said:\n{transcript(turn)}\n  ({where})"


def _run(
    flow: Flow,
    spec: ConversationFile,
    case: Conversation,
    path: tuple[str | int, ...],
    lines: Mapping[tuple[str | int, ...], int],
) -> Failure | None:
    contact = spec.contact
    if case.contact is not None:
        contact = contact.model_copy(
            update={k: getattr(case.contact, k) for k in case.contact.model_fields_set}
        )
    start = case.start or spec.start
    stubs = Stubs.of(case.webhooks, spec.webhooks)
    clock = FrozenClock(spec.now)
    session = new_session(
        flow,
        contact.view(clock.now()),
        case.channel or spec.channel,
        clock.now(),
        start.trigger,
        start.params,
    )

    def answer(call: CallWebhook) -> WebhookDone:
        stub = stubs.match(call)
        if stub is None:
            raise Unstubbed(call)
        return stub.answer()

    offer: list[tuple[str, str]] = []
    turn: list[Action] = []
    event: Event = Start(trigger=start.trigger, params=dict(start.params))
    steps: list[StepSpec | None] = [None, *case.steps]  # None: the start
    for number, spec_step in enumerate(steps):
        line = lines.get((*path, "steps", number - 1)) if number else lines.get(path)
        try:
            if spec_step is not None and spec_step.expect is not None:
                problems = check(spec_step.expect, turn, session)
                if problems:
                    return Failure(number, line, _explain(problems, turn, session))
                continue
            if spec_step is not None:
                event = _event(spec_step, session, clock, offer)
            session, turn = advance(flow, session, event, clock, answer)
        except _StepError as exc:
            return Failure(number or None, line, str(exc))
        except Unstubbed as exc:
            return Failure(
                number or None, line, f"the flow called {exc}, and no webhook stub matches it"
            )
        except Exception as exc:  # the engine failing is a finding, not a crash of the run
            return Failure(number or None, line, f"the engine failed: {type(exc).__name__}: {exc}")
        for action in turn:
            if isinstance(action, Send) and offered(action.content):
                offer = offered(action.content)
    return None


def run_file(path: Path, flows: _Flows | None = None) -> list[Result]:
    """Run every test in one file. Raises _Broken when the file cannot run."""
    flows = flows or _Flows()
    spec, lines = _read(path)
    flow = flows.load(flows.find(spec.flow, path))
    results = []
    for index, case in enumerate(spec.tests):
        where = ("tests", index)
        failure = _run(flow, spec, case, where, lines)
        results.append(Result(path, case.name, lines.get(where), failure))
    return results


def run_dir(path: Path) -> Report:
    """Run every conversation test under a directory (or in one file)."""
    report = Report()
    flows = _Flows()
    for file in conversation_files(path):
        report.files.append(file)
        try:
            report.results += run_file(file, flows)
        except _Broken as exc:
            report.broken.append((file, str(exc)))
    return report
