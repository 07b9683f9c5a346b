"""Who gets a broadcast, on which channel, with what, and who does not and why — for a batch
of audience members at a time. The estimate and the fan-out both ask this planner, so what
the marketer is told before sending is what the fan-out does.

Each member's channels are tried in the broadcast's order (the contact strategy's rules: the
first the policy allows is chosen; failing that the first deferred; failing that the first
refusal is kept with its reason). On a channel with a session message and a template, the
free session message is tried first. The policy is asked round by round — every member's
first choice in one batch of decisions, then the next choice of those still unplaced — so a
batch costs a few fixed sets of queries, not a few per member. Every channel is asked, as the
contact strategy does: which refusals hold on every channel (a cap may be one channel's) is
the policy's to say, not the planner's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.broadcasts import personalize, schedule
from threadline.broadcasts.spec import BroadcastSpec
from threadline.channels import messages as content_types
from threadline.channels import registry
from threadline.channels.adapter import Envelope, RenderError
from threadline.channels.kinds import Channel
from threadline.channels.models import ChannelAccount
from threadline.channels.service import for_workspace, sender_state, serves
from threadline.contacts.models import Contact, ContactURN
from threadline.kit.errors import InvalidInput
from threadline.kit.scoped import Scope
from threadline.messages.service import template_facts_for
from threadline.policy.service import Pending, SendQuestion, decide_many, recipient_of, stored_urn
from threadline.policy.types import Decision, Outcome, Purpose, Quality, TemplateFacts
from threadline.templates.lint.terms import DEFAULT_OPT_OUT_PHRASES, plain
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of

NO_ADDRESS = "no_address"  # no channel of the broadcast has an address for the member
MISSING_VALUE = "missing_value"  # a placeholder had no value for them on every channel
_OPT_OUT_WORDS = tuple(plain(p) for p in DEFAULT_OPT_OUT_PHRASES)


@dataclass(frozen=True, slots=True)
class Route:
    """One way a broadcast can travel: a channel account and the message it carries there."""

    kind: Channel
    account: ChannelAccount
    content: content_types.Content
    template: TemplateFacts | None
    session: bool  # a free-form message for people whose window is open
    personal: bool  # has placeholders to fill per member


@dataclass(frozen=True, slots=True)
class Target:
    """What becomes of one member: a decision on a route, or why no route was open."""

    contact_id: str
    due: datetime
    route: Route | None = None
    address: str | None = None
    content: dict[str, Any] | None = None
    decision: Decision | None = None
    unreached: str | None = None  # NO_ADDRESS or MISSING_VALUE

    @property
    def tally_key(self) -> str:
        """How the estimate and the progress count this member."""
        if self.decision is None:
            return self.unreached or NO_ADDRESS
        reason = self.decision.reason.value if self.decision.reason else "refused"
        if self.decision.outcome is Outcome.ALLOWED:
            return "allowed"
        if self.decision.outcome is Outcome.DEFERRED:
            return f"deferred:{reason}"
        return reason


@dataclass
class _Member:
    contact: Contact
    urns: list[str]
    due: datetime
    options: list[tuple[Route, str, dict[str, Any]]] = field(default_factory=list)
    tried: int = 0
    deferred: Target | None = None
    refused: Target | None = None
    missing: bool = False


@dataclass
class Planner:
    """The routes of one occurrence of a broadcast, and what its earlier batches used up."""

    workspace: Workspace
    campaign_id: str
    spec: BroadcastSpec
    occurrence: int
    started: datetime
    routes: list[Route]
    pending: Pending = field(default_factory=Pending)

    @classmethod
    async def prepare(
        cls,
        session: AsyncSession,
        workspace: Workspace,
        campaign_id: str,
        spec: BroadcastSpec,
        occurrence: int,
        started: datetime,
    ) -> Planner:
        routes = await routes_for(session, workspace, spec)
        planner = cls(workspace, campaign_id, spec, occurrence, started, routes)
        if spec.budget is not None:
            planner.pending.campaign_budgets[campaign_id] = spec.budget
        return planner

    async def plan(
        self, session: AsyncSession, contact_ids: Sequence[str], now: datetime
    ) -> list[Target]:
        members = await self._members(session, contact_ids)
        placed: dict[str, Target] = {}
        while True:
            asking = [(m, m.options[m.tried]) for m in members if m.contact.id not in placed
                      and m.tried < len(m.options)]  # fmt: skip
            if not asking:
                break
            questions = [self._question(m, route) for m, (route, _a, _c) in asking]
            verdicts = await decide_many(session, self.workspace, questions, now, self.pending)
            for (member, option), (decision, _ctx) in zip(asking, verdicts, strict=True):
                member.tried += 1
                self._weigh(member, option, decision, placed)
        return [placed.get(m.contact.id) or self._unplaced(m) for m in members]

    def _weigh(
        self,
        member: _Member,
        option: tuple[Route, str, dict[str, Any]],
        decision: Decision,
        placed: dict[str, Target],
    ) -> None:
        route, address, content = option
        target = Target(member.contact.id, member.due, route, address, content, decision)
        if decision.outcome is Outcome.ALLOWED:
            placed[member.contact.id] = target
        elif decision.outcome is Outcome.DEFERRED:
            member.deferred = member.deferred or target
        elif not route.session:  # a closed window only means "try the template"
            member.refused = member.refused or target

    @staticmethod
    def _unplaced(member: _Member) -> Target:
        found = member.deferred or member.refused
        if found is not None:
            return found
        why = MISSING_VALUE if member.missing else NO_ADDRESS
        return Target(member.contact.id, member.due, unreached=why)

    def _question(self, member: _Member, route: Route) -> SendQuestion:
        quality, limit = sender_state(route.account)
        content = content_types.CONTENT_ADAPTER.validate_python(
            member.options[member.tried][2]
        ) if route.personal else route.content  # fmt: skip
        return SendQuestion(
            contact_id=member.contact.id,
            channel=route.kind,
            purpose=self.spec.purpose,
            topic=self.spec.topic,
            template=None if route.session else route.template,
            campaign_id=self.campaign_id,
            campaign_holdout_percent=self.spec.holdout_percent,
            sender=route.account.address,
            quality=Quality(quality),
            messaging_limit=limit,
            at=member.due,
            billable=registry.billable(route.kind, content),
            extra_caps=(self.spec.frequency_cap.to_cap(),) if self.spec.frequency_cap else (),
        )

    async def _members(self, session: AsyncSession, contact_ids: Sequence[str]) -> list[_Member]:
        scope = Scope(session, self.workspace.id)
        contacts = {
            c.id: c
            for c in await session.scalars(scope.select(Contact).where(Contact.id.in_(contact_ids)))
        }
        urns: dict[str, list[str]] = {}
        for contact_id, urn in await session.execute(
            scope.columns(ContactURN, ContactURN.contact_id, ContactURN.urn)
            .where(ContactURN.contact_id.in_(contact_ids))
            .order_by(ContactURN.id)
        ):
            urns.setdefault(contact_id, []).append(urn)
        zone = settings_of(self.workspace).default_timezone
        members = []
        for contact_id in contact_ids:
            contact = contacts.get(contact_id)
            if contact is None:  # erased since the audience was read
                continue
            theirs = urns.get(contact_id, [])
            local = recipient_of(contact, [stored_urn(u) for u in theirs], zone).timezones[0]
            due = schedule.due_for(self.spec.schedule, self.occurrence, local, self.started)
            member = _Member(contact, theirs, due)
            self._options(member)
            members.append(member)
        return members

    def _options(self, member: _Member) -> None:
        for route in self.routes:
            scheme = registry.urn_scheme_for(route.kind)
            address = next((u for u in member.urns if u.startswith(f"{scheme}:")), None)
            if address is None:
                continue
            try:
                content = (
                    personalize.personal(route.content, member.contact)
                    if route.personal
                    else route.content.model_dump(mode="json", exclude_none=True)
                )
            except personalize.MissingValue:
                member.missing = True
                continue
            member.options.append((route, address, content))


async def routes_for(
    session: AsyncSession, workspace: Workspace, spec: BroadcastSpec
) -> list[Route]:
    """The broadcast's channels in order, each with its account and its message; a channel
    with no account for this traffic or no message it can carry is left out, and a broadcast
    with no route at all is refused."""
    order = spec.channels or settings_of(workspace).strategy_for(spec.purpose).order
    marketing = spec.purpose is Purpose.MARKETING
    accounts: dict[str, ChannelAccount] = {}
    for account in await for_workspace(session, workspace.id):
        if serves(account, marketing):
            accounts.setdefault(account.kind, account)
    routes: list[Route] = []
    problems: list[str] = []
    for kind in order:
        found = accounts.get(kind.value)
        if found is None:
            problems.append(f"{kind.value}: no account for this traffic")
            continue
        account = found
        for session_message, content in (
            (True, spec.session_content.get(kind.value)),
            (False, spec.content_for(kind)),
        ):
            if content is None:
                continue
            content = _with_opt_out(content, kind, spec)
            problem = _cannot_carry(kind, content)
            if problem:
                problems.append(f"{kind.value}: {problem}")
                continue
            try:
                facts = await template_facts_for(session, workspace.id, account, content)
            except InvalidInput as exc:  # a template this account does not have
                problems.append(f"{kind.value}: {exc.message}")
                continue
            routes.append(
                Route(kind, account, content, facts, session_message,
                      personalize.has_placeholders(content))
            )  # fmt: skip
    if not routes:
        raise InvalidInput(
            "no channel of this broadcast can carry it: " + "; ".join(problems), where="channels"
        )
    return routes


def _cannot_carry(kind: Channel, content: content_types.Content) -> str | None:
    try:
        registry.adapter(kind).render(content, Envelope(to="0"))
    except RenderError as exc:
        return exc.message
    return None


def _with_opt_out(
    content: content_types.Content, kind: Channel, spec: BroadcastSpec
) -> content_types.Content:
    """Marketing text ends with how to opt out on channels whose rules ask for it."""
    wording = registry.rules_for(kind).marketing_opt_out_text
    if (
        wording is None
        or not spec.add_opt_out_instructions
        or spec.purpose is not Purpose.MARKETING
        or not isinstance(content, content_types.Text)
        or any(phrase in plain(content.body) for phrase in _OPT_OUT_WORDS)
    ):
        return content
    return content.model_copy(update={"body": f"{content.body}\n{wording}"})
