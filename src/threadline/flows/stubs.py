"""Webhook stubs: answers by route for the calls a flow makes, and `advance`, which plays one
event with every webhook call it leads to answered straight away. Conversation tests and the
simulator use them: neither has a worker or (with stubs) a network."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import yaml
from pydantic import TypeAdapter

from threadline.flows.engine import step
from threadline.flows.loader import Flow
from threadline.flows.scripts import ScriptLoader, StubSpec
from threadline.flows.state import Action, CallWebhook, Event, FlowState, WebhookDone
from threadline.kit.clock import Clock

MAX_WEBHOOK_CALLS = 50  # per event; validation does not see loops through webhooks

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
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=ScriptLoader)
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
    flow: Flow, state: FlowState, event: Event, clock: Clock, answer: WebhookAnswer
) -> tuple[FlowState, list[Action]]:
    """One event, then every webhook call it leads to answered straight away (a test or a
    simulation has no worker to wait for)."""
    state, actions = step(flow, state, event, clock)
    collected = list(actions)
    for _ in range(MAX_WEBHOOK_CALLS):
        calls = [a for a in actions if isinstance(a, CallWebhook)]
        if state.status != "webhook" or not calls:
            return state, collected
        state, actions = step(flow, state, answer(calls[-1]), clock)
        collected += actions
    raise RuntimeError(f"more than {MAX_WEBHOOK_CALLS} webhook calls after one event")
