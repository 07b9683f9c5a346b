"""`threadline flows simulate`: talk to a flow in the terminal, through the same pure engine
that runs it in production, and see the decisions it takes as it goes.

Lines are read from standard input, so a simulation can be driven by a pipe. A number answers
the last buttons or list rows as a tap would. Commands: /timeout (the wait's deadline passes),
/handback and /close (as the agent holding a handoff), /quit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from rich.console import Console
from rich.text import Text

from threadline.channels import messages as m
from threadline.channels.kinds import Channel
from threadline.flows.engine import new_state
from threadline.flows.loader import Flow
from threadline.flows.state import (
    Action,
    AddInterests,
    AddScore,
    CallWebhook,
    ChangeTags,
    Close,
    ContactView,
    Ended,
    Event,
    FlowState,
    FlowStatus,
    HandBack,
    OpenTicket,
    RecordCsat,
    Reply,
    Send,
    SetFields,
    Start,
    Timeout,
    WebhookDone,
)
from threadline.flows.testing import Stubs, advance, offered
from threadline.kit.clock import SystemClock

HELP = (
    "type a reply; a number taps a button or list row · "
    "/timeout · /handback · /close (as the agent) · /quit"
)
DIM = "dim"


class SkipClock:
    """Real time, plus however far /timeout has jumped ahead."""

    def __init__(self) -> None:
        self.skipped = timedelta(0)

    def now(self) -> datetime:
        return SystemClock().now() + self.skipped

    def skip_to(self, when: datetime) -> None:
        self.skipped += max(when - self.now(), timedelta(0))


def call_for_real(call: CallWebhook) -> WebhookDone:
    try:
        response = httpx.request(
            call.method,
            call.url,
            headers=call.headers,
            json=call.body,
            timeout=call.timeout_seconds,
        )
    except httpx.HTTPError as exc:
        return WebhookDone(status=None, error=f"{type(exc).__name__}: {exc}")
    try:
        body: object = response.json()
    except ValueError:
        body = response.text
    return WebhookDone(status=response.status_code, body=body)


@dataclass
class Simulation:
    flow: Flow
    console: Console
    channel: Channel = Channel.WHATSAPP
    contact: ContactView = field(default_factory=ContactView)
    stubs: Stubs | None = None  # None: webhooks are called for real
    trigger: str = "keyword"
    params: dict[str, object] = field(default_factory=dict)
    clock: SkipClock = field(default_factory=SkipClock)
    offer: list[tuple[str, str]] = field(default_factory=list)
    state: FlowState | None = None
    results: list[str] = field(default_factory=list)  # webhook answers not shown yet

    # ------------------------------------------------------------ driving

    def start(self) -> FlowState:
        now = self.clock.now()
        self.state = new_state(
            self.flow, self.contact, self.channel, now, self.trigger, self.params
        )
        self.note(f"flow {self.flow.key} on {self.channel.value}, started by {self.trigger}")
        return self.send(Start(trigger=self.trigger, params=dict(self.params)))

    def send(self, event: Event) -> FlowState:
        assert self.state is not None
        before = self.state
        self.state, actions = advance(self.flow, before, event, self.clock, self.answer)
        self.show(before, self.state, actions)
        return self.state

    def handle(self, line: str) -> bool:
        """One line typed by the person (or a command); False when the simulation is over."""
        assert self.state is not None
        said = line.strip()
        if said in {"/quit", "/exit"}:
            return False
        if said in {"/help", "/?"}:
            self.note(HELP)
        elif said == "/timeout":
            wait = self.state.wait
            if wait is None:
                self.note(f"nothing is waiting for a timeout (status {self.state.status})")
            else:
                self.clock.skip_to(wait.deadline)
                self.note(f"time passes: {wait.node} reached its deadline")
                self.send(Timeout())
        elif said in {"/handback", "/close"}:
            if self.state.status != FlowStatus.HANDOFF:
                self.note(f"no agent holds the conversation (status {self.state.status})")
            else:
                self.send(HandBack() if said == "/handback" else Close())
        elif said.startswith("/"):
            self.note(f"unknown command {said} — {HELP}")
        elif said:
            if self.state.status == FlowStatus.HANDOFF:
                self.note("an agent holds the conversation: the bot stays silent")
            self.send(self.reply(said))
        return self.state.active

    def reply(self, said: str) -> Reply:
        # A bare number answers the last buttons or rows as a tap would, so a piped script
        # can press buttons; on channels without them the engine reads the number itself.
        if said.isdigit() and 1 <= int(said) <= len(self.offer):
            choice_id, title = self.offer[int(said) - 1]
            self.note(f"tapped {title}")
            return Reply(text=title, payload=choice_id, kind="interactive")
        return Reply(text=said)

    def answer(self, call: CallWebhook) -> WebhookDone:
        if self.stubs is None:
            # Said now, not with the rest of the step: the call may take its whole timeout.
            self.note(f"calling {call.method} {call.url} (timeout {call.timeout_seconds:g}s)")
            done = call_for_real(call)
        else:
            stub = self.stubs.match(call)
            done = (
                stub.answer()
                if stub is not None
                else WebhookDone(status=None, error=f"no stub for {call.method} {call.url}")
            )
        self.results.append(
            f"HTTP {done.status}" if done.status is not None else f"failed: {done.error}"
        )
        return done

    # ------------------------------------------------------------ showing

    def note(self, text: str) -> None:
        self.console.print(Text(f"  · {text}", style=DIM))

    def show(self, before: FlowState, after: FlowState, actions: list[Action]) -> None:
        # In the order it happened: the reply is saved, then nodes run and say things.
        for name, value in after.answers.items():
            if before.answers.get(name) != value:
                self.note(f"saved answers.{name} = {value!r}")
        if before.answers and not after.answers:
            self.note("answers cleared (starting over)")
        entered = after.path[len(before.path) :]
        if entered:
            self.note(" → ".join(self._label(node) for node in entered))
        for action in actions:
            if isinstance(action, Send):
                self.message(action)
            else:
                self.decision(action)
        self.show_state(after)

    def _label(self, node_id: str) -> str:
        node = self.flow.nodes.get(node_id)
        return f"{node_id} ({node.type})" if node is not None else node_id

    def message(self, send: Send) -> None:
        content = send.content
        body = _body(content)
        self.console.print(Text("bot ", style="bold cyan") + Text(body))
        options = offered(content)
        # A number answers the latest message only: "2" to "how many people?" is not a tap
        # on buttons shown earlier.
        self.offer = options
        if isinstance(content, m.ListMessage):
            self.console.print(Text(f"     ☰ {content.button}", style="cyan"))
        rows = {r.id: r.description for s in getattr(content, "sections", []) for r in s.rows}
        for number, (choice_id, title) in enumerate(options, start=1):
            extra = f" — {rows[choice_id]}" if rows.get(choice_id) else ""
            self.console.print(Text(f"     [{number}] {title}", style="cyan") + Text(extra, DIM))
        if isinstance(content, m.CtaUrl):
            self.console.print(Text(f"     [{content.display_text}] → {content.url}", "cyan"))
        if send.template is not None:
            self.note(f"if the window is closed: template {send.template.name}")

    def decision(self, action: Action) -> None:
        if isinstance(action, SetFields):
            self.note("set fields " + ", ".join(f"{k}={v!r}" for k, v in action.values.items()))
        elif isinstance(action, ChangeTags):
            changes = [f"+{t}" for t in action.add] + [f"-{t}" for t in action.remove]
            self.note("tags " + " ".join(changes))
        elif isinstance(action, AddInterests):
            self.note("interests " + " ".join(f"+{i}" for i in action.interests))
        elif isinstance(action, AddScore):
            self.note(f"score {action.delta:+g} (total {action.total:g})")
        elif isinstance(action, CallWebhook):
            result = self.results.pop(0) if self.results else "no answer yet"
            self.note(f"webhook {action.method} {action.url} → {result}")
        elif isinstance(action, OpenTicket):
            self.note(f"ticket opened for team {action.team}: {action.summary}")
        elif isinstance(action, RecordCsat):
            self.note(f"csat {action.score} recorded")
        elif isinstance(action, Ended):
            reason = f" ({action.reason})" if action.reason else ""
            self.note(f"ended: {action.outcome}{reason}")

    def show_state(self, state: FlowState) -> None:
        wait = state.wait
        if state.status == FlowStatus.HANDOFF:
            self.note("an agent has the conversation now — /handback or /close as the agent")
        elif state.status == FlowStatus.WAITING and wait is not None:
            left = wait.deadline - self.clock.now()
            self.note(f"waiting at {wait.node} ({wait.kind}), timeout in {_short(left)}")


def _body(content: m.Content) -> str:
    if isinstance(content, m.Media):
        link = content.link or content.media_id or ""
        return f"[{content.kind}] {link}" + (f"\n    {content.caption}" if content.caption else "")
    if isinstance(content, m.Template):
        return f"[template {content.name}]"
    body = getattr(content, "body", None)
    return body if isinstance(body, str) else f"[{content.type}]"


def _short(delta: timedelta) -> str:
    seconds = max(round(delta.total_seconds()), 0)
    if seconds >= 120:  # the clock moved a little since the wait began: 29m58s reads as 30m
        seconds = round(seconds / 60) * 60
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds // 60}m" if seconds >= 600 else f"{seconds}s"


def run(simulation: Simulation, lines: Iterator[str], echo: bool) -> FlowState:
    """Start the flow, then feed it lines until it ends, /quit, or the input runs out.
    `echo` prints each line read (a pipe's input is not on the screen)."""
    state = simulation.start()
    if state.active:
        simulation.note(HELP)
    while state.active:
        line = next(lines, None)
        if line is None:
            break
        if echo:
            simulation.console.print(Text("you ", style="bold green") + Text(line.rstrip("\n")))
        if not simulation.handle(line):
            break
        state = simulation.state or state
    final = simulation.state or state
    outcome = f"ended: {final.outcome}" if final.outcome else f"left {final.status}"
    simulation.console.print(Text(f"— {outcome}", style="bold"))
    return final


def lines_from(read: Callable[[], str]) -> Iterator[str]:
    """Lines from a reader that returns '' (or raises EOFError) at the end."""
    while True:
        try:
            line = read()
        except EOFError:
            return
        if line == "":
            return
        yield line


__all__ = ["Simulation", "SkipClock", "call_for_real", "lines_from", "run"]
