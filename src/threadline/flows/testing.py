"""Conversation tests: the runner. It plays YAML scripts (their format and loading are in
`flows/scripts.py`) against a flow through the pure engine and checks what the bot says and
does. No database and no network: webhook calls are answered by stubs (`flows/stubs.py`).

`run_dir(path)` runs every test file under a folder and returns a `Report`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from threadline.channels import messages as m
from threadline.channels.choices import plain
from threadline.flows.engine import new_state
from threadline.flows.expressions import lookup
from threadline.flows.loader import Flow, FlowError, load_path
from threadline.flows.scripts import (
    DURATION,
    BrokenFile,
    Conversation,
    ConversationFile,
    Expect,
    HandoffExpect,
    StepSpec,
    StubSpec,
    Tap,
    conversation_files,
    flow_key,
    flow_paths,
    is_conversation_test,
    read_script,
)
from threadline.flows.state import (
    Action,
    CallWebhook,
    Close,
    Event,
    FlowState,
    HandBack,
    OpenTicket,
    RecordCsat,
    Reply,
    Send,
    Start,
    Timeout,
    WebhookDone,
)
from threadline.flows.stubs import Stubs, Unstubbed, advance
from threadline.kit.clock import FrozenClock

_NUMBERED = re.compile(r"^\s*(\d+)\.\s+(.+?)\s*$")

# ---------------------------------------------------------------- finding the flow under test


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
                raise BrokenFile(f"flow file {path} not found")
            return path
        # The test's folder first, then its parent: tests usually sit in a tests/ folder
        # beside the flows they test.
        folders = [test_file.parent, test_file.parent.parent]
        for folder in folders:
            found = self.keys_under(folder).get(key, [])
            if len(found) > 1:
                raise BrokenFile(
                    f"flow {key} is defined in several files: " + ", ".join(map(str, found))
                )
            if found:
                return found[0]
        raise BrokenFile(f"no flow file with `flow: {key}` under {folders[0]} or {folders[1]}")

    def load(self, path: Path) -> Flow:
        if path not in self._compiled:
            try:
                self._compiled[path] = load_path(path)
            except FlowError as exc:
                self._compiled[path] = exc
        compiled = self._compiled[path]
        if isinstance(compiled, FlowError):
            raise BrokenFile(f"the flow does not validate:\n{compiled}")
        return compiled


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


def check(expect: Expect, turn: Sequence[Action], state: FlowState) -> list[str]:
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
    problems += _state(expect, state)
    problems += _handoff(expect.handoff, [a for a in turn if isinstance(a, OpenTicket)])
    scores = [a.score for a in turn if isinstance(a, RecordCsat)]
    if expect.csat is not None and expect.csat not in scores:
        problems.append(f"csat {expect.csat} recorded (recorded: {_shown(scores)})")
    return problems


def _state(expect: Expect, state: FlowState) -> list[str]:
    problems: list[str] = []
    if expect.node is not None and state.node != expect.node:
        problems.append(f"to be at node {expect.node} (it is at {state.node})")
    for name, value in (expect.field or {}).items():
        actual = state.contact.fields.get(name)
        if not _same(actual, value):
            problems.append(f"field {name} = {value!r} (it is {actual!r})")
    tags = sorted(state.contact.tags)
    if missing := [t for t in expect.tags or [] if t not in tags]:
        problems.append(f"tags {_shown(missing)} (tags: {_shown(tags)})")
    if unwanted := [t for t in expect.no_tags or [] if t in tags]:
        problems.append(f"no tags {_shown(unwanted)} (tags: {_shown(tags)})")
    for name, value in (expect.answer or {}).items():
        actual = lookup(state, f"answers.{name}")
        if not _same(actual, value):
            problems.append(f"answer {name} = {value!r} (it is {actual!r})")
    if expect.outcome is not None and state.outcome != expect.outcome:
        problems.append(
            f"outcome {expect.outcome} (status {state.status}, outcome {state.outcome})"
        )
    if expect.status is not None and state.status != expect.status:
        problems.append(f"status {expect.status} (it is {state.status})")
    if expect.score is not None and abs(state.score - expect.score) > 1e-9:
        problems.append(f"score {expect.score:g} (it is {state.score:g})")
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
    spec: StepSpec, state: FlowState, clock: FrozenClock, offer: list[tuple[str, str]]
) -> Event:
    if spec.user is not None:
        if not state.active:
            raise _StepError(
                f"the conversation has ended ({state.outcome}); nothing reads {spec.user!r}"
            )
        return _tap(spec.user, offer) if isinstance(spec.user, Tap) else Reply(text=spec.user)
    if spec.agent is not None:
        if state.status != "handoff":
            raise _StepError(
                f"agent {spec.agent}: no agent has the conversation (status {state.status})"
            )
        return HandBack() if spec.agent == "hand_back" else Close()
    if spec.wait == "timeout":
        if state.wait is None:
            raise _StepError(f"wait timeout: nothing is waiting (status {state.status})")
        clock.set(max(clock.now(), state.wait.deadline))
        return Timeout()
    assert spec.wait is not None
    clock.advance(DURATION.validate_python(spec.wait))
    return Timeout()  # ignored by the engine unless a deadline has passed


def _explain(problems: list[str], turn: Sequence[Action], state: FlowState) -> str:
    wanted = (
        f" {problems[0]}" if len(problems) == 1 else ":" + "".join(f"\n    - {p}" for p in problems)
    )
    where = f"now at node {state.node}, status {state.status}"
    if state.outcome:
        where += f": {state.outcome}" + (f", {state.end_reason}" if state.end_reason else "")
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
    state = new_state(
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
                problems = check(spec_step.expect, turn, state)
                if problems:
                    return Failure(number, line, _explain(problems, turn, state))
                continue
            if spec_step is not None:
                event = _event(spec_step, state, clock, offer)
            state, turn = advance(flow, state, event, clock, answer)
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
    """Run every test in one file. Raises BrokenFile when the file cannot run."""
    flows = flows or _Flows()
    spec, lines = read_script(path)
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
        except BrokenFile as exc:
            report.broken.append((file, str(exc)))
    return report


# StubSpec, Stubs, advance and the file-finding functions live in flows/scripts.py and
# flows/stubs.py; they stay importable from here for the CLI, the simulator and the tests.
__all__ = [
    "Failure",
    "Report",
    "Result",
    "StubSpec",
    "Stubs",
    "advance",
    "check",
    "conversation_files",
    "describe",
    "flow_key",
    "flow_paths",
    "is_conversation_test",
    "numbered",
    "offered",
    "run_dir",
    "run_file",
    "transcript",
]
