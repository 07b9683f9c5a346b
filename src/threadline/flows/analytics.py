"""Flow analytics for one flow version: how many people entered each node and where they
stopped answering, how sessions ended, the usual paths through the flow, how long completing
it takes, and which paths lead to a conversion (a contact event after the start).

Two queries (the version's sessions, then the candidate conversion events of their contacts)
feed `summarise`, a pure fold that tests call directly."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.contacts.models import ContactEvent
from threadline.flows import service as flows
from threadline.flows.format import HELD_OUT, OUTCOMES
from threadline.flows.loader import FlowError
from threadline.flows.models import FlowSession, FlowVersion
from threadline.flows.state import FlowStatus
from threadline.kit.scoped import Scope

CONVERSION_WINDOW = timedelta(days=7)
TOP_PATHS = 20
PATH_SEPARATOR = " > "
# A wait that ran out (or the session's lifetime did): the person stopped answering there.
DROP_OFF_REASONS = frozenset({"timeout", "expired"})
OTHER_PATHS = "(other paths)"
ALL_PATHS = "(all)"
CSV_COLUMNS = (
    "section",
    "name",
    "visits",
    "sessions",
    "drop_offs",
    "count",
    "converted",
    "value",
    "rate",
    "share",
)


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What analytics needs of one stored session (a `flow_sessions` row)."""

    id: str
    contact_id: str
    status: str  # a FlowStatus, as stored
    node: str | None  # where it is (or ended)
    path: tuple[str, ...]  # node ids entered, in order
    started_at: datetime
    outcome: str | None = None
    end_reason: str | None = None
    ended_at: datetime | None = None

    @property
    def ended(self) -> bool:
        return self.status == FlowStatus.ENDED

    @property
    def completed(self) -> bool:
        """Ended with an outcome other than abandoned."""
        return self.ended and self.outcome is not None and self.outcome != "abandoned"

    @property
    def dropped_at(self) -> str | None:
        """The node where the person stopped answering, if that is how the session ended."""
        if self.ended and self.outcome == "abandoned" and self.end_reason in DROP_OFF_REASONS:
            return self.node or (self.path[-1] if self.path else None)
        return None


@dataclass(frozen=True, slots=True)
class ConversionEvent:
    """A contact event that may count as a conversion (a `contact_events` row)."""

    id: str
    contact_id: str
    kind: str
    name: str | None
    occurred_at: datetime
    value: Decimal | None = None
    currency: str | None = None


def is_conversion(kind: str, name: str | None, conversion: str) -> bool:
    """An event of kind `conversion`, or a custom event named `conversion`."""
    return kind == conversion or (kind == "custom" and name == conversion)


def collapse(path: Iterable[str]) -> tuple[str, ...]:
    """The path with consecutive repeats of a node (re-entries, hand-backs) made one."""
    out: list[str] = []
    for node in path:
        if not out or out[-1] != node:
            out.append(node)
    return tuple(out)


def path_key(path: Iterable[str]) -> str:
    return PATH_SEPARATOR.join(collapse(path))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _days(span: timedelta) -> float | int:
    days = span / timedelta(days=1)
    return int(days) if days == int(days) else round(days, 4)


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.0001")))


def _first_conversions(
    sessions: Sequence[SessionFacts],
    events: Sequence[ConversionEvent],
    conversion: str,
    now: datetime,
    window: timedelta,
) -> dict[str, ConversionEvent]:
    """session id -> the first converting event in [started_at, started_at + window), up to
    now. One event may convert several sessions of the same contact."""
    by_contact: defaultdict[str, list[ConversionEvent]] = defaultdict(list)
    for event in events:
        if event.occurred_at <= now and is_conversion(event.kind, event.name, conversion):
            by_contact[event.contact_id].append(event)
    for found in by_contact.values():
        found.sort(key=lambda e: (e.occurred_at, e.id))
    first: dict[str, ConversionEvent] = {}
    for session in sessions:
        until = session.started_at + window
        for event in by_contact.get(session.contact_id, ()):
            if session.started_at <= event.occurred_at < until:
                first[session.id] = event
                break
    return first


def _conversion_row(
    name: str, sessions: Sequence[SessionFacts], first: dict[str, ConversionEvent]
) -> dict[str, Any]:
    converted = [first[s.id] for s in sessions if s.id in first]
    by_currency: defaultdict[str, Decimal] = defaultdict(Decimal)
    for event in converted:
        if event.value is not None:
            by_currency[event.currency or ""] += event.value
    total = sum(by_currency.values(), Decimal(0))
    return {
        "path": name,
        "sessions": len(sessions),
        "converted": len(converted),
        "rate": _rate(len(converted), len(sessions)),
        "value": _money(total),
        "value_by_currency": {c: _money(v) for c, v in sorted(by_currency.items())},
    }


def _node_figures(sessions: Sequence[SessionFacts], nodes: Sequence[str]) -> dict[str, Any]:
    """Per node: entries from paths, distinct sessions, where people stopped answering."""
    visits: Counter[str] = Counter()
    reached: Counter[str] = Counter()
    drop_offs: Counter[str] = Counter()
    for s in sessions:
        visits.update(s.path)
        reached.update(set(s.path))
        if (at := s.dropped_at) is not None:
            drop_offs[at] += 1
    order = list(dict.fromkeys([*nodes, *visits, *drop_offs]))
    return {
        node: {
            "visits": visits[node],
            "sessions": reached[node],
            "drop_offs": drop_offs[node],
            "drop_off_rate": _rate(drop_offs[node], reached[node]),
        }
        for node in order
    }


def _outcome_figures(ended: Sequence[SessionFacts]) -> dict[str, Any]:
    """Per outcome, over ended sessions: the flow format's outcomes first, then others."""
    outcome_counts = Counter(s.outcome or "unknown" for s in ended)
    outcome_names = list(dict.fromkeys([*OUTCOMES, *sorted(outcome_counts)]))
    return {
        name: {"count": outcome_counts[name], "rate": _rate(outcome_counts[name], len(ended))}
        for name in outcome_names
    }


def _ranked_paths(ended: Sequence[SessionFacts]) -> list[tuple[str, list[SessionFacts]]]:
    """Ended sessions grouped by path (repeats collapsed), the most taken first."""
    by_path: defaultdict[str, list[SessionFacts]] = defaultdict(list)
    for s in ended:
        by_path[path_key(s.path)].append(s)
    return sorted(by_path.items(), key=lambda item: (-len(item[1]), item[0]))


def _conversion_figures(
    ended: Sequence[SessionFacts],
    ranked: list[tuple[str, list[SessionFacts]]],
    conversions: Sequence[ConversionEvent],
    now: datetime,
    *,
    conversion: str,
    window: timedelta,
    top: int,
) -> dict[str, Any]:
    """Conversion of ended sessions, overall and by path (the top paths, then the rest)."""
    first = _first_conversions(ended, conversions, conversion, now, window)
    conversion_paths = [_conversion_row(key, group, first) for key, group in ranked[:top]]
    rest = [s for _, group in ranked[top:] for s in group]
    if rest:
        conversion_paths.append(_conversion_row(OTHER_PATHS, rest, first))
    overall = _conversion_row(ALL_PATHS, ended, first)
    del overall["path"]
    return {
        "event": conversion,
        "window_days": _days(window),
        # ended sessions whose window is still open: their figures may still grow
        "window_open": sum(1 for s in ended if s.started_at + window > now),
        "overall": overall,
        "by_path": conversion_paths,
    }


def summarise(
    sessions: Sequence[SessionFacts],
    conversions: Sequence[ConversionEvent],
    now: datetime,
    *,
    conversion: str = "purchase",
    nodes: Sequence[str] = (),
    window: timedelta = CONVERSION_WINDOW,
    top: int = TOP_PATHS,
) -> dict[str, Any]:
    """The figures of one flow version, JSON-ready. `nodes` lists the version's node ids so
    nodes nobody reached show with zeros (in the flow's order); nodes only seen in paths,
    such as the fallback, follow. Sessions of the control group (an automation's holdout)
    are kept out of the funnel and compared with the treated ones under `holdout`."""
    control = [s for s in sessions if s.outcome == HELD_OUT]
    sessions = [s for s in sessions if s.outcome != HELD_OUT]
    started = len(sessions)
    ended = [s for s in sessions if s.ended]
    completed = [s for s in ended if s.completed]
    durations = [
        (s.ended_at - s.started_at).total_seconds() for s in completed if s.ended_at is not None
    ]
    ranked = _ranked_paths(ended)
    paths = [
        {"path": key, "count": len(group), "share": _rate(len(group), len(ended))}
        for key, group in ranked[:top]
    ]
    return {
        "sessions": {"started": started, "active": started - len(ended), "ended": len(ended)},
        "nodes": _node_figures(sessions, nodes),
        "outcomes": _outcome_figures(ended),
        "completion_rate": _rate(len(completed), started),
        "median_seconds_to_complete": (
            round(statistics.median(durations), 1) if durations else None
        ),
        "paths": paths,
        "distinct_paths": len(ranked),
        "conversion": _conversion_figures(
            ended, ranked, conversions, now, conversion=conversion, window=window, top=top
        ),
        "holdout": _holdout_figures(sessions, control, conversions, now, conversion, window),
    }


def _holdout_figures(
    treated: Sequence[SessionFacts],
    control: Sequence[SessionFacts],
    conversions: Sequence[ConversionEvent],
    now: datetime,
    conversion: str,
    window: timedelta,
) -> dict[str, Any] | None:
    """Conversion of everyone the flow took in against its control group, each from its
    start (the control's recorded entry): what the automation adds, not what it touched."""
    if not control:
        return None
    first = _first_conversions([*treated, *control], conversions, conversion, now, window)
    rows = {
        name: _conversion_row(name, group, first)
        for name, group in (("treated", treated), ("control", control))
    }
    for row in rows.values():
        del row["path"]
    return rows


# ---------------------------------------------------------------- reading the database


async def _session_facts(
    session: AsyncSession, workspace_id: str, flow_id: str
) -> list[SessionFacts]:
    scope = Scope(session, workspace_id)
    rows = await session.execute(
        scope.columns(
            FlowSession,
            FlowSession.id,
            FlowSession.contact_id,
            FlowSession.status,
            FlowSession.node,
            FlowSession.state["path"],
            FlowSession.started_at,
            FlowSession.outcome,
            FlowSession.end_reason,
            FlowSession.ended_at,
        ).where(FlowSession.flow_id == flow_id)
    )
    return [
        SessionFacts(
            id=id_,
            contact_id=contact_id,
            status=status,
            node=node,
            path=tuple(path or ()),
            started_at=started_at,
            outcome=outcome,
            end_reason=end_reason,
            ended_at=ended_at,
        )
        for id_, contact_id, status, node, path, started_at, outcome, end_reason, ended_at in rows
    ]


async def _conversion_events(
    session: AsyncSession,
    workspace_id: str,
    flow_id: str,
    facts: Sequence[SessionFacts],
    conversion: str,
    now: datetime,
    window: timedelta,
) -> list[ConversionEvent]:
    """Events of the sessions' contacts that could convert one of them: the right kind,
    between the first start and the last start plus the window, not in the future."""
    if not facts:
        return []
    scope = Scope(session, workspace_id)
    contacts = scope.columns(FlowSession, FlowSession.contact_id).where(
        FlowSession.flow_id == flow_id
    )
    rows = await session.execute(
        scope.columns(
            ContactEvent,
            ContactEvent.id,
            ContactEvent.contact_id,
            ContactEvent.kind,
            ContactEvent.name,
            ContactEvent.occurred_at,
            ContactEvent.value,
            ContactEvent.currency,
        ).where(
            ContactEvent.contact_id.in_(contacts.scalar_subquery()),
            or_(
                ContactEvent.kind == conversion,
                and_(ContactEvent.kind == "custom", ContactEvent.name == conversion),
            ),
            ContactEvent.occurred_at >= min(f.started_at for f in facts),
            ContactEvent.occurred_at < max(f.started_at for f in facts) + window,
            ContactEvent.occurred_at <= now,
        )
    )
    return [
        ConversionEvent(
            id=id_,
            contact_id=contact_id,
            kind=kind,
            name=name,
            occurred_at=occurred_at,
            value=value,
            currency=currency,
        )
        for id_, contact_id, kind, name, occurred_at, value, currency in rows
    ]


async def report(
    session: AsyncSession, workspace_id: str, version: FlowVersion, conversion: str, now: datetime
) -> dict[str, Any]:
    """The analytics of one flow version of the workspace (see `summarise`)."""
    facts = await _session_facts(session, workspace_id, version.id)
    events = await _conversion_events(
        session, workspace_id, version.id, facts, conversion, now, CONVERSION_WINDOW
    )
    try:
        nodes = list(flows.compiled(version).nodes)
    except FlowError:  # an old version today's loader refuses: its paths still tell
        nodes = []
    figures = summarise(facts, events, now, conversion=conversion, nodes=nodes)
    return {
        "flow": {
            "id": version.id,
            "key": version.key,
            "version": version.version,
            "name": version.name,
            "active": version.active,
        },
        "generated_at": now.isoformat(),
        **figures,
    }


# ---------------------------------------------------------------- CSV


def _cell(value: Any) -> Any:
    return "" if value is None else value


def to_csv(report: dict[str, Any]) -> str:
    """The report as one sheet: a `section` column (summary, node, outcome, path,
    conversion) and a `name` column; `rate` is the section's rate (drop-off rate for nodes,
    share of ended sessions for outcomes, conversion rate for conversion)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()

    def row(section: str, name: str, **values: Any) -> None:
        writer.writerow(
            {"section": section, "name": name, **{k: _cell(v) for k, v in values.items()}}
        )

    for name, count in report["sessions"].items():
        row("summary", f"sessions_{name}", count=count)
    row("summary", "completion_rate", rate=report["completion_rate"])
    row("summary", "median_seconds_to_complete", value=report["median_seconds_to_complete"])
    for node, n in report["nodes"].items():
        row(
            "node",
            node,
            visits=n["visits"],
            sessions=n["sessions"],
            drop_offs=n["drop_offs"],
            rate=n["drop_off_rate"],
        )
    for outcome, o in report["outcomes"].items():
        row("outcome", outcome, count=o["count"], rate=o["rate"])
    for p in report["paths"]:
        row("path", p["path"], count=p["count"], share=p["share"])
    conv = report["conversion"]
    for c in [{**conv["overall"], "path": ALL_PATHS}, *conv["by_path"]]:
        row(
            "conversion",
            c["path"],
            sessions=c["sessions"],
            converted=c["converted"],
            value=c["value"],
            rate=c["rate"],
        )
    return out.getvalue()
