"""The flow engine: `step(flow, state, event, clock) -> (state, actions)`, pure.

A step enters nodes until the flow has to wait for someone — the person (ask, csat, a
recommendation to pick from, the honest fallback), the business's system (webhook) or an
agent (handoff) — or ends. Every wait has a deadline; at every wait by the person, opting out,
asking for a human and asking for the menu work whatever the node expects."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal

from threadline.channels import messages as m
from threadline.channels import registry
from threadline.channels.choices import Choice, match, plain, present
from threadline.channels.kinds import Channel
from threadline.consent.keywords import KeywordKind, classify
from threadline.flows import answers
from threadline.flows import format as f
from threadline.flows.expressions import dig, holds, interpolate, interpolate_value
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
    Exit,
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
    Wait,
    WaitKind,
    WebhookDone,
)
from threadline.kit.clock import Clock, as_utc

# "I want to talk to a human" escapes; a paragraph that mentions a person does not.
ESCAPE_MAX_TOKENS = 8
MAX_NODES_PER_STEP = 200  # validation rejects loops without waits; this guards the rest
WEBHOOK_GRACE = timedelta(seconds=30)
FALLBACK_NODE = "__fallback__"
FALLBACK_CHOICES = (
    Choice(id="human", title="Talk to a person"),
    Choice(id="menu", title="Start over"),
)
OPT_OUTS = frozenset({KeywordKind.OPT_OUT, KeywordKind.OPT_OUT_ALL})


class FlowBug(Exception):
    """The flow itself is broken in a way validation could not see."""


def new_state(
    flow: Flow,
    contact: ContactView,
    channel: Channel,
    now: datetime,
    trigger: str = "api",
    params: dict[str, object] | None = None,
) -> FlowState:
    return FlowState(
        flow=flow.key,
        channel=channel,
        contact=contact,
        trigger=trigger,
        started_at=now,
        expires_at=now + flow.file.expires_after,
        params=dict(params or {}),
    )


def step(
    flow: Flow, state: FlowState, event: Event, clock: Clock
) -> tuple[FlowState, list[Action]]:
    run = _Run(flow, state, clock.now())
    run.handle(event)
    return run.state, run.actions


class _Run:
    def __init__(self, flow: Flow, state: FlowState, now: datetime) -> None:
        self.flow = flow
        self.state = state
        self.now = now
        self.actions: list[Action] = []
        self.entered = 0

    # ------------------------------------------------------------ events

    def handle(self, event: Event) -> None:
        if isinstance(event, Start):
            self.state = replace(
                self.state,
                trigger=event.trigger,
                params={**self.state.params, **event.params},
            )
            self.enter(self.flow.start)
        elif not self.state.active:
            return  # an ended state ignores everything
        elif isinstance(event, Reply):
            self.on_reply(event)
        elif isinstance(event, Timeout):
            self.on_timeout()
        elif isinstance(event, WebhookDone):
            self.on_webhook(event)
        elif isinstance(event, HandBack | Close):
            self.on_agent_done(isinstance(event, HandBack))
        elif isinstance(event, Exit):
            self.end(event.outcome, reason=f"exit: {event.reason}", text=None)

    def on_reply(self, reply: Reply) -> None:
        wait = self.state.wait
        if self.state.status != FlowStatus.WAITING or wait is None or wait.kind == "delay":
            # replies during a handoff, a webhook call or a pause are not the bot's to answer
            return
        # A tap carries the id of one of our own options: "Cancel my order" is an answer,
        # not an opt-out. Typed words (and template buttons, sent without our ids) are read.
        if reply.payload is None and reply.text and classify(reply.text).kind in OPT_OUTS:
            self.end("abandoned", reason="opted_out", text=None)
            return
        if self.now >= self.state.expires_at:
            self.end("abandoned", reason="expired", text=None)
            return
        if wait.kind == "fallback":
            self.on_fallback_reply(reply)
            return
        node = self.flow.nodes[wait.node]
        # A tapped button, a recognised option or a valid email/number/date wins over an escape
        # word ("Agent" may be an option, "1 person" answers "how many?"); only in a free-text
        # question, which any words answer, does an escape win over the answer.
        free = reply.payload is None and isinstance(node, f.Ask) and node.kind == "text"
        value = None if free else self.read(node, reply)
        if value is None:
            if self.is_escape(reply.text, self.flow.file.escapes.human):
                self.handoff(self.flow.file.fallback.team, f"Asked for a person at {wait.node}")
                return
            if self.is_escape(reply.text, self.flow.file.escapes.menu):
                self.restart()
                return
            if free:
                value = self.read(node, reply)
        if value is None:
            self.on_unrecognised(node, wait)
            return
        self.accept(node, value)

    def restart(self) -> None:
        self.state = replace(self.state, wait=None, answers={})
        self.enter(self.flow.start)

    def read(self, node: f.Node, reply: Reply) -> object | None:
        today = self.now.date()
        if isinstance(node, f.Ask):
            value: object = answers.read(
                node.kind,
                reply.text,
                reply.payload,
                choices=tuple(self.choices_of(node)),
                low=node.min,
                high=node.max,
                region=self.state.contact.region,
                today=today,
            )
            return value
        if isinstance(node, f.Csat):
            return answers.rating(reply.text, reply.payload)
        if isinstance(node, f.Recommend):
            found = match(reply.text, self.product_choices(node), reply.payload)
            return found.id if found else None
        raise FlowBug(f"node {node.id} does not wait for answers")

    def accept(self, node: f.Node, value: object) -> None:
        saved = dict(self.state.answers)
        target = node.next
        if isinstance(node, f.Ask):
            if node.save_as:
                saved[node.save_as] = value
            chosen = next((c for c in node.choices if c.id == value), None)
            target = chosen.next if chosen and chosen.next else node.next
        elif isinstance(node, f.Csat):
            saved[node.save_as] = value
            assert isinstance(value, int)
            self.actions.append(RecordCsat(node=node.id, score=value))
        elif isinstance(node, f.Recommend) and node.save_as:
            saved[node.save_as] = value
            picked = next((p for p in self.flow.catalog if p.id == value), None)
            if picked is not None:  # {{answers.<save_as>_product.title}}, .url, .price ...
                saved[f"{node.save_as}_product"] = picked.model_dump(mode="json")
        self.state = replace(self.state, answers=saved, wait=None)
        self.go(target, node)

    def on_unrecognised(self, node: f.Node, wait: Wait) -> None:
        misses = wait.misses + 1
        retries = getattr(node, "retries", None)
        allowed = retries if retries is not None else self.flow.file.fallback.after - 1
        if misses <= allowed:
            # asked again, the person gets the whole time to answer again
            deadline = self.deadline(getattr(node, "timeout", None))
            self.state = replace(self.state, wait=replace(wait, misses=misses, deadline=deadline))
            self.prompt(node, reprompt=True)
            return
        on_invalid = getattr(node, "on_invalid", None)
        self.state = replace(self.state, wait=None)
        if on_invalid:
            self.enter(on_invalid)
            return
        # Honest fallback: say we can't help, offer a person or a fresh start.
        self.actions.append(
            Send(
                node=FALLBACK_NODE,
                content=present(self.state.channel, self.flow.file.fallback.text, FALLBACK_CHOICES),
            )
        )
        self.state = replace(self.state, node=FALLBACK_NODE, path=(*self.state.path, FALLBACK_NODE))
        self.wait_for(FALLBACK_NODE, "fallback", self.flow.file.wait_timeout)

    def on_fallback_reply(self, reply: Reply) -> None:
        found = match(reply.text, FALLBACK_CHOICES, reply.payload)
        wants_menu = found is not None and found.id == "menu"
        if wants_menu or self.is_escape(reply.text, self.flow.file.escapes.menu):
            self.restart()
            return
        # "Talk to a person", or still not understood: a person is the honest next step.
        self.handoff(self.flow.file.fallback.team, "The bot could not understand the customer")

    def on_timeout(self) -> None:
        wait = self.state.wait
        if self.state.status == FlowStatus.HANDOFF:
            return  # an agent's ticket has no bot deadline
        if wait is None or wait.deadline > self.now:
            return  # a stale or early timer
        if self.now >= self.state.expires_at:
            self.end("abandoned", reason="expired", text=None)
            return
        if wait.kind == "webhook":
            node = self.flow.nodes[wait.node]
            assert isinstance(node, f.Webhook)
            self.state = replace(self.state, wait=None, status=FlowStatus.WAITING)
            self.go(node.on_failure, node)
            return
        if wait.kind == "delay":
            paused = self.flow.nodes[wait.node]
            self.state = replace(self.state, wait=None)
            self.go(paused.next, paused)
            return
        waiting_at = self.flow.nodes.get(wait.node)
        self.state = replace(self.state, wait=None)
        on_timeout = getattr(waiting_at, "on_timeout", None)
        if isinstance(waiting_at, f.Csat):
            self.go(waiting_at.next, waiting_at)  # no answer to a survey is an answer
        elif isinstance(on_timeout, str):
            self.enter(on_timeout)
        else:
            self.end("abandoned", reason="timeout", text=None)

    def on_webhook(self, done: WebhookDone) -> None:
        wait = self.state.wait
        if self.state.status != FlowStatus.WEBHOOK or wait is None:
            return
        node = self.flow.nodes[wait.node]
        assert isinstance(node, f.Webhook)
        self.state = replace(self.state, wait=None, status=FlowStatus.WAITING)
        if done.status is None or not 200 <= done.status < 300:
            saved = dict(self.state.answers)
            if node.save_as:
                saved[f"{node.save_as}_error"] = done.error or f"HTTP {done.status}"
            self.state = replace(self.state, answers=saved)
            self.go(node.on_failure, node)
            return
        if node.save_as:
            result = done.body
            if node.map:
                result = {
                    name: dig(done.body, path.removeprefix("$.")) for name, path in node.map.items()
                }
            self.state = replace(self.state, answers={**self.state.answers, node.save_as: result})
        self.go(node.next, node)

    def on_agent_done(self, hand_back: bool) -> None:
        if self.state.status != FlowStatus.HANDOFF:
            return
        resume = self.state.resume_at
        self.state = replace(self.state, status=FlowStatus.WAITING, resume_at=None)
        if hand_back and resume:
            self.enter(resume)
        else:
            self.end("handed_off", reason="agent_resolved", text=None)

    # ------------------------------------------------------------ nodes

    def go(self, target: str | None, origin: f.Node) -> None:
        if target is None:
            self.end("resolved", reason=f"no next after {origin.id}", text=None)
        else:
            self.enter(target)

    def enter(self, node_id: str) -> None:
        while True:
            self.entered += 1
            if self.entered > MAX_NODES_PER_STEP:
                raise FlowBug(f"more than {MAX_NODES_PER_STEP} nodes without a wait")
            node = self.flow.nodes.get(node_id)
            if node is None:
                raise FlowBug(f"no node {node_id}")
            self.state = replace(self.state, node=node_id, path=(*self.state.path, node_id))
            following = self.run_node(node)
            if following is None:
                return
            node_id = following

    def run_node(self, node: f.Node) -> str | None:
        """Do what a node does; return the node to enter next, or None when waiting/ended."""
        if isinstance(node, f.Say):
            self.say(node)
            return self.next_or_end(node)
        if isinstance(node, f.Ask | f.Csat):
            self.prompt(node)
            self.wait_for(node.id, "ask" if isinstance(node, f.Ask) else "csat", node.timeout)
            return None
        if isinstance(node, f.Branch):
            for case in node.cases:
                if holds(case.when, self.state, self.now):
                    return case.next
            return node.default
        if isinstance(node, f.SetNode):
            self.set(node)
            return self.next_or_end(node)
        if isinstance(node, f.Webhook):
            self.call(node)
            return None
        if isinstance(node, f.Recommend):
            return self.recommend(node)
        if isinstance(node, f.Handoff):
            if node.text:
                self.send(node.id, m.Text(body=interpolate(node.text, self.state)))
            self.handoff(node.team, interpolate(node.summary, self.state), resume_at=node.next)
            return None
        if isinstance(node, f.WaitNode):
            return self.pause(node)
        if isinstance(node, f.Goto):
            return node.target
        if isinstance(node, f.End):
            self.end(node.outcome, reason=None, text=node.text, node=node.id)
            return None
        raise FlowBug(f"subflow node {node.id} was not compiled")

    def next_or_end(self, node: f.Node) -> str | None:
        if node.next is None:
            self.end("resolved", reason=f"no next after {node.id}", text=None)
        return node.next

    def send(self, node: str, content: m.Content, template: f.TemplateSpec | None = None) -> None:
        self.actions.append(Send(node=node, content=content, template=template))

    def say(self, node: f.Say) -> None:
        text = interpolate(node.text, self.state) if node.text else None
        template = node.template
        if template is not None:
            template = template.model_copy(
                update={"body": [interpolate(v, self.state) for v in template.body]}
            )
        if node.media is not None:
            captioned = node.media.kind != "audio" and node.cta is None
            media = self.media(
                node.media.kind,
                interpolate(node.media.url, self.state),
                caption=text if captioned else None,
                filename=node.media.filename,
            )
            self.send(node.id, media, template)
            if captioned or text is None:
                return
            template = None  # a template stands in for the node's first message only
        assert text is not None
        if node.cta is not None:
            url = interpolate(node.cta.url, self.state)
            self.send(
                node.id, m.CtaUrl(body=text, display_text=node.cta.display_text, url=url), template
            )
        else:
            self.send(node.id, m.Text(body=text, preview_url="http" in text), template)

    def media(
        self,
        kind: Literal["image", "video", "audio", "document"],
        link: str,
        *,
        caption: str | None = None,
        filename: str | None = None,
    ) -> m.Media | m.Text:
        """The media by its link, or, on a channel that cannot carry that kind (Apple
        Messages for Business takes no attachments yet), the link as text under the caption:
        the person still gets it, and the flow goes on instead of ending unsent."""
        caps = registry.capabilities_for(self.state.channel)
        if kind in caps.media:
            return m.Media(kind=kind, link=link, caption=caption, filename=filename)
        return m.Text(body="\n\n".join(part for part in (caption, link) if part), preview_url=True)

    def choices_of(self, node: f.Ask) -> list[Choice]:
        if node.kind == "yes_no":
            return list(answers.YES_NO)
        return [
            Choice(id=c.id, title=c.title, description=c.description, synonyms=tuple(c.synonyms))
            for c in node.choices
        ]

    def prompt(self, node: f.Node, reprompt: bool = False) -> None:
        if isinstance(node, f.Ask):
            body = interpolate(node.text, self.state)
            if reprompt:
                body = (
                    interpolate(node.reprompt, self.state)
                    if node.reprompt
                    else (f"Sorry, I didn't get that. {body}")
                )
            choices = self.choices_of(node)
            content: m.Content = (
                present(self.state.channel, body, choices, list_button=node.list_button)
                if choices
                else m.Text(body=body)
            )
        elif isinstance(node, f.Csat):
            body = interpolate(node.text, self.state)
            if reprompt:
                body = f"Please answer with a number from 1 to 5. {body}"
            content = present(self.state.channel, body, answers.CSAT, list_button="Rate")
        elif isinstance(node, f.Recommend):
            content = present(
                self.state.channel,
                "Please pick one of these:" if reprompt else interpolate(node.text, self.state),
                self.product_choices(node),
                list_button="See products",
            )
        else:
            raise FlowBug(f"node {node.id} has nothing to ask")
        self.actions.append(Send(node=node.id, content=content, reprompt=reprompt))

    def deadline(self, timeout: timedelta | None) -> datetime:
        return min(self.now + (timeout or self.flow.file.wait_timeout), self.state.expires_at)

    def wait_for(self, node_id: str, kind: WaitKind, timeout: timedelta | None) -> None:
        deadline = self.deadline(timeout)
        self.state = replace(
            self.state,
            status=FlowStatus.WAITING,
            wait=Wait(node=node_id, kind=kind, deadline=deadline),
        )

    def pause(self, node: f.WaitNode) -> str | None:
        """Sleep until the node's moment (or end at once if it has passed and should)."""
        if node.for_ is not None:
            moment = self.now + node.for_
        else:
            assert node.until is not None
            written = interpolate(node.until, self.state).strip()
            try:
                moment = as_utc(datetime.fromisoformat(written)) - node.before
            except ValueError:
                self.end("abandoned", reason=f"{node.id}: {written!r} is no date-time", text=None)
                return None
        if moment <= self.now and node.if_past == "end":
            self.end("abandoned", reason=f"{node.id}: the moment had passed", text=None)
            return None
        # A moment gone is due at once, but still through the timer: a wait always lets go of
        # the conversation, and waking takes it back only when it is free. Past the
        # session's expiry the timer fires at the expiry, which ends the session.
        deadline = min(max(moment, self.now), self.state.expires_at)
        self.state = replace(
            self.state,
            status=FlowStatus.WAITING,
            wait=Wait(node=node.id, kind="delay", deadline=deadline),
        )
        return None

    def set(self, node: f.SetNode) -> None:
        contact = self.state.contact
        if node.fields:
            values = {k: interpolate_value(v, self.state) for k, v in node.fields.items()}
            self.actions.append(SetFields(values=values))
            contact = replace(contact, fields={**contact.fields, **values})
        if node.tags.add or node.tags.remove:
            self.actions.append(
                ChangeTags(add=tuple(node.tags.add), remove=tuple(node.tags.remove))
            )
            contact = replace(
                contact, tags=(contact.tags | set(node.tags.add)) - set(node.tags.remove)
            )
        if node.interests:
            self.actions.append(AddInterests(interests=tuple(node.interests)))
            contact = replace(contact, interests=contact.interests | set(node.interests))
        score = self.state.score
        if node.score is not None:
            score += node.score
            self.actions.append(AddScore(delta=node.score, total=score))
        saved = {
            **self.state.answers,
            **{k: interpolate_value(v, self.state) for k, v in node.answers.items()},
        }
        self.state = replace(self.state, contact=contact, score=score, answers=saved)

    def call(self, node: f.Webhook) -> None:
        self.actions.append(
            CallWebhook(
                node=node.id,
                method=node.method,
                url=interpolate(node.url, self.state),
                headers={k: interpolate(v, self.state) for k, v in node.headers.items()},
                body=interpolate_value(node.body, self.state) if node.body else None,
                timeout_seconds=node.timeout.total_seconds(),
            )
        )
        self.state = replace(
            self.state,
            status=FlowStatus.WEBHOOK,
            wait=Wait(
                node=node.id,
                kind="webhook",
                deadline=min(self.now + node.timeout + WEBHOOK_GRACE, self.state.expires_at),
            ),
        )

    def products(self, node: f.Recommend) -> list[f.Product]:
        wanted = {k: plain(interpolate(v, self.state)) for k, v in node.where.items()}
        wanted = {k: v for k, v in wanted.items() if v and v not in {"any", "all"}}
        tags = {plain(interpolate(t, self.state)) for t in node.tags_any} - {"", "any"}
        price_max = node.price_max
        if isinstance(price_max, str):
            price_max = answers.number(interpolate(price_max, self.state), None, None)
        found = []
        for product, attributes, product_tags in self.flow.catalog_index:
            if any(attributes.get(k) != v for k, v in wanted.items()):
                continue
            if tags and not tags & product_tags:
                continue
            if price_max is not None and product.price is not None and product.price > price_max:
                continue
            found.append(product)
        return found[: node.limit]

    def product_choices(self, node: f.Recommend) -> list[Choice]:
        return [
            Choice(id=p.id, title=p.title[:24], description=_price_line(p)[:72])
            for p in self.products(node)
        ]

    def recommend(self, node: f.Recommend) -> str | None:
        picks = self.products(node)
        self.state = replace(
            self.state,
            answers={**self.state.answers, f"{node.id}_shown": [p.id for p in picks]},
        )
        if not picks:
            return node.on_empty
        if node.style == "cards":
            if not node.save_as:  # with save_as, the text is the question after the cards
                self.send(node.id, m.Text(body=interpolate(node.text, self.state)))
            for product in picks:
                caption = "\n".join(
                    part
                    for part in (f"*{product.title}* — {_price_line(product)}", product.url)
                    if part
                )
                if product.image:
                    self.send(node.id, self.media("image", product.image, caption=caption))
                else:
                    self.send(node.id, m.Text(body=caption, preview_url=bool(product.url)))
        if node.save_as:
            self.prompt(node)
            self.wait_for(node.id, "recommend", node.timeout)
            return None
        if node.style == "list":
            lines = [
                f"{n}. {p.title} — {_price_line(p)}" + (f"\n   {p.url}" if p.url else "")
                for n, p in enumerate(picks, start=1)
            ]
            body = interpolate(node.text, self.state) + "\n\n" + "\n".join(lines)
            self.send(node.id, m.Text(body=body, preview_url=False))
        return self.next_or_end(node)

    def handoff(self, team: str, summary: str, resume_at: str | None = None) -> None:
        wait = self.state.wait
        if resume_at is None and wait is not None:
            # Handed back, the person is asked again where they were (from the fallback: anew).
            resume_at = self.flow.start if wait.node == FALLBACK_NODE else wait.node
        self.actions.append(OpenTicket(node=self.state.node or "", team=team, summary=summary))
        self.state = replace(self.state, status=FlowStatus.HANDOFF, wait=None, resume_at=resume_at)

    def end(
        self, outcome: str, *, reason: str | None, text: str | None, node: str | None = None
    ) -> None:
        if text:
            self.send(node or self.state.node or "", m.Text(body=interpolate(text, self.state)))
        self.actions.append(Ended(outcome=outcome, reason=reason))
        self.state = replace(
            self.state,
            status=FlowStatus.ENDED,
            wait=None,
            outcome=outcome,
            end_reason=reason,
            ended_at=self.now,
        )

    @staticmethod
    def is_escape(text: str, words: list[str]) -> bool:
        said = plain(text)
        if not said:
            return False
        tokens = said.split()
        for word in map(plain, words):
            if said == word:
                return True
            # "I want a human" is an escape; a long message that mentions one is not
            if len(tokens) <= ESCAPE_MAX_TOKENS and f" {word} " in f" {said} ":
                return True
        return False


def _price_line(product: f.Product) -> str:
    if product.price is None:
        return product.description or ""
    price = f"{product.currency} {product.price:,.2f}".replace(".00", "")
    return f"{price}" + (f" · {product.description}" if product.description else "")


__all__ = ["FlowBug", "new_state", "step"]
