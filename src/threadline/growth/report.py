"""Growth per source and day: subscriptions gained (a grant, a confirmed double opt-in or a
re-subscription) and lost (an opt-out), counted per (channel, topic) a contact holds.

An opt-out is charged to the source the subscription came from, so a poster that brings
people who leave a week later shows it; a gain already held (a second grant) is no gain.
Days are the workspace's own (its default time zone)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.consent.models import ConsentEvent
from threadline.consent.projection import TRANSACTIONAL, Action, LedgerLine, in_effect_order, status
from threadline.kit.scoped import Scope
from threadline.policy.types import ConsentStatus

UNKNOWN = "unknown"
CHUNK = 500
CSV_COLUMNS = ("day", "source", "ref", "opt_ins", "opt_outs", "net")


@dataclass(frozen=True)
class GrowthReport:
    start: date
    end: date  # inclusive
    timezone: str
    rows: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        by_source: dict[str, Counter[str]] = {}
        for row in self.rows:
            tally = by_source.setdefault(row["source"], Counter())
            tally.update({"opt_ins": row["opt_ins"], "opt_outs": row["opt_outs"]})
        gained = sum(r["opt_ins"] for r in self.rows)
        lost = sum(r["opt_outs"] for r in self.rows)
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "timezone": self.timezone,
            "rows": self.rows,
            "by_source": [
                {
                    "source": source,
                    "opt_ins": t["opt_ins"],
                    "opt_outs": t["opt_outs"],
                    "net": t["opt_ins"] - t["opt_outs"],
                }
                for source, t in sorted(by_source.items())
            ],
            "total": {"opt_ins": gained, "opt_outs": lost, "net": gained - lost},
        }


def to_csv(report: GrowthReport) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        writer.writerow({**row, "ref": row["ref"] or ""})
    return out.getvalue()


def _line(event: ConsentEvent) -> LedgerLine:
    return LedgerLine(
        action=Action(event.action),
        channel=event.channel,
        topic=event.topic,
        occurred_at=event.occurred_at,
        expires_at=event.expires_at,
    )


def _origin(event: ConsentEvent) -> tuple[str, str | None]:
    ref = (event.evidence or {}).get("ref")
    return event.source, ref if isinstance(ref, str) else None


def _changes(
    events: Sequence[ConsentEvent], start: datetime, end: datetime
) -> Iterable[tuple[ConsentEvent, tuple[str, str], str, tuple[str, str | None]]]:
    """For one contact's ledger: (line, (channel, topic), "in" or "out", origin) for each
    subscription a line changed inside [start, end)."""
    ordered = sorted(events, key=lambda e: e.occurred_at.replace(microsecond=0))
    pairs = {
        (e.channel, e.topic)
        for e in events
        if e.action in (Action.GRANT, Action.REQUEST) and e.topic != TRANSACTIONAL
    }
    origin: dict[tuple[str, str], tuple[str, str | None]] = {}
    requested: dict[tuple[str, str], tuple[str, str | None]] = {}
    prefix: list[LedgerLine] = []
    for event in ordered:
        line = _line(event)
        at = event.occurred_at
        for pair in sorted(pairs):
            before = status(prefix, *pair, at) is ConsentStatus.GRANTED
            after = status([*prefix, line], *pair, at) is ConsentStatus.GRANTED
            if event.action is Action.REQUEST and (event.channel, event.topic) == pair:
                requested[pair] = _origin(event)
            if before == after:
                continue
            if after:
                # A confirmation belongs to the capture it confirms (the QR, the form...).
                gained_from = (
                    requested.get(pair, _origin(event))
                    if event.action is Action.CONFIRM
                    else _origin(event)
                )
                if event.action is not Action.RESTORE:
                    origin[pair] = gained_from
                if start <= at < end:
                    yield event, pair, "in", gained_from
            elif start <= at < end:
                yield event, pair, "out", origin.get(pair, (UNKNOWN, None))
        prefix = list(in_effect_order([*prefix, line]))


async def growth_report(
    session: AsyncSession,
    workspace_id: str,
    *,
    start: date,
    end: date,
    zone: str,
    channel: str | None = None,
    topic: str | None = None,
) -> GrowthReport:
    tz = ZoneInfo(zone)
    since = datetime.combine(start, time(), tz)
    until = datetime.combine(end + timedelta(days=1), time(), tz)
    scope = Scope(session, workspace_id)
    touched = await session.scalars(
        scope.columns(ConsentEvent, ConsentEvent.contact_id)
        .where(ConsentEvent.occurred_at >= since, ConsentEvent.occurred_at < until)
        .distinct()
    )
    contact_ids = sorted(set(touched))
    tally: Counter[tuple[str, str, str | None, str]] = Counter()
    for offset in range(0, len(contact_ids), CHUNK):
        chunk = contact_ids[offset : offset + CHUNK]
        rows = await session.scalars(
            scope.select(ConsentEvent)
            .where(ConsentEvent.contact_id.in_(chunk), ConsentEvent.occurred_at < until)
            .order_by(ConsentEvent.contact_id, ConsentEvent.recorded_at, ConsentEvent.id)
        )
        by_contact: dict[str, list[ConsentEvent]] = {}
        for event in rows:
            by_contact.setdefault(event.contact_id, []).append(event)
        for events in by_contact.values():
            for event, (on, about), way, (source, ref) in _changes(events, since, until):
                if (channel is not None and on != channel) or (
                    topic is not None and about != topic
                ):
                    continue
                day = event.occurred_at.astimezone(tz).date().isoformat()
                tally[(day, source, ref, way)] += 1
    keys = sorted({(day, source, ref or "") for day, source, ref, _ in tally})
    report_rows = []
    for day, source, ref_text in keys:
        ref = ref_text or None
        gained, lost = tally[(day, source, ref, "in")], tally[(day, source, ref, "out")]
        report_rows.append(
            {
                "day": day,
                "source": source,
                "ref": ref,
                "opt_ins": gained,
                "opt_outs": lost,
                "net": gained - lost,
            }
        )
    return GrowthReport(start, end, zone, report_rows)
