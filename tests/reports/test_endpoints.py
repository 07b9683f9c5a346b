"""GET /api/v1/reports/cost for a seeded workspace: each message counted once, in the right
line, within the period asked for, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.api.test_bad_input import problem
from tests.conftest import T0, Tenant, channel_row
from threadline.kit.ids import new_id
from threadline.messages.models import Message

BR = "5511999990000"
DE = "4915112345678"


def _message(
    workspace_id: str,
    contact_id: str,
    channel_id: str,
    *,
    phone: str = BR,
    at: datetime = T0 - timedelta(hours=1),
    direction: str = "out",
    status: str = "delivered",
    category: str | None = "marketing",
    template_name: str | None = "spring_sale",
    campaign_id: str | None = None,
    estimate: str | None = "0.0625",
    actual: str | None = "0.0625",
) -> Message:
    return Message(
        id=new_id("msg"),
        workspace_id=workspace_id,
        contact_id=contact_id,
        channel_id=channel_id,
        direction=direction,
        address=f"whatsapp:{phone}",
        kind="template" if template_name else "text",
        content={"type": "text", "body": "hi"},
        text="hi",
        purpose=category or "service",
        template_name=template_name,
        template_category=category,
        campaign_id=campaign_id,
        status=status,
        cost_estimate=Decimal(estimate) if estimate is not None else None,
        cost_actual=Decimal(actual) if actual is not None else None,
        created_at=at,
        updated_at=at,
    )


async def _seed(tenant: Tenant, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Five messages that count and four that must not."""
    created = await tenant.client.post("/api/v1/contacts", json={"urns": [f"whatsapp:+{BR}"]})
    assert created.status_code == 201, created.text
    contact_id = created.json()["id"]
    async with sessions() as session, session.begin():
        channel = channel_row(tenant.id)
        session.add(channel)
        await session.flush()

        def m(**kw: Any) -> Message:
            return _message(tenant.id, contact_id, channel.id, **kw)

        yesterday = T0 - timedelta(days=1)
        session.add_all(
            [
                # Counted: two marketing (one from a campaign), one utility in Germany still
                # unpriced, one free service reply, one failed (estimated, never billed).
                m(campaign_id="cmp_spring"),
                m(at=yesterday, estimate="0.0625", actual=None, status="failed"),
                m(
                    phone=DE,
                    category="utility",
                    template_name="order_update",
                    estimate="0.0456",
                    actual=None,
                    status="sent",
                    at=yesterday,
                ),
                m(category=None, template_name=None, estimate="0", actual="0"),
                m(campaign_id="cmp_spring", status="read", estimate="0.0625", actual="0.0700"),
                # Not counted: inbound, refused, deferred, and outside the 30 days.
                m(direction="in", status="received", category=None, template_name=None),
                m(status="refused", actual=None),
                m(status="deferred", actual=None),
                m(at=T0 - timedelta(days=31)),
            ]
        )


async def _report(tenant: Tenant, **params: str) -> dict[str, Any]:
    answer = await tenant.client.get("/api/v1/reports/cost", params=params)
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


def _lines(report: dict[str, Any]) -> dict[str, tuple[int, int, str, str, int]]:
    return {
        line["key"]: (
            line["messages"],
            line["billable"],
            line["estimated"],
            line["actual"],
            line["priced"],
        )
        for line in report["lines"]
    }


async def test_figures_by_category_for_the_last_30_days(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _seed(tenant, sessions)
    report = await _report(tenant)
    assert report["group_by"] == "category" and report["currency"] == "USD"
    assert report["until"] == T0.isoformat()
    assert report["since"] == (T0 - timedelta(days=30)).isoformat()
    lines = _lines(report)
    assert [line["key"] for line in report["lines"]] == ["marketing", "utility", "service"]
    assert {k: (v[0], v[1], v[4]) for k, v in lines.items()} == {
        "marketing": (3, 3, 2),
        "utility": (1, 1, 0),
        "service": (1, 0, 1),
    }
    assert Decimal(lines["marketing"][2]) == Decimal("0.1875")
    assert Decimal(lines["marketing"][3]) == Decimal("0.1325")
    total = report["total"]
    assert (total["messages"], total["billable"], total["priced"]) == (5, 4, 3)
    assert Decimal(total["estimated"]) == Decimal("0.2331")
    assert Decimal(total["actual"]) == Decimal("0.1325")


async def test_figures_by_market_template_campaign_and_day(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _seed(tenant, sessions)
    count = {k: v[0] for k, v in _lines(await _report(tenant, group_by="market")).items()}
    assert count == {"BR": 4, "DE": 1}
    count = {k: v[0] for k, v in _lines(await _report(tenant, group_by="template")).items()}
    assert count == {"spring_sale": 3, "order_update": 1, "(free-form)": 1}
    count = {k: v[0] for k, v in _lines(await _report(tenant, group_by="campaign")).items()}
    assert count == {"cmp_spring": 2, "(none)": 3}
    days = _lines(await _report(tenant, group_by="day"))
    today, yesterday = T0.date().isoformat(), (T0 - timedelta(days=1)).date().isoformat()
    assert {k: v[0] for k, v in days.items()} == {today: 3, yesterday: 2}


async def test_the_period_can_be_narrowed(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _seed(tenant, sessions)
    since = (T0 - timedelta(hours=2)).isoformat()
    report = await _report(tenant, since=since, group_by="day")
    assert {line["key"]: line["messages"] for line in report["lines"]} == {T0.date().isoformat(): 3}
    older = await _report(
        tenant,
        since=(T0 - timedelta(days=40)).isoformat(),
        until=(T0 - timedelta(days=30)).isoformat(),
    )
    assert older["total"]["messages"] == 1


async def test_csv_has_a_header_a_row_per_line_and_the_total(
    tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _seed(tenant, sessions)
    answer = await tenant.client.get(
        "/api/v1/reports/cost", params={"group_by": "market", "format": "csv"}
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["market", "messages", "billable", "estimated", "actual", "priced"]
    assert [(r[0], r[1]) for r in rows[1:]] == [("BR", "4"), ("DE", "1"), ("total", "5")]
    assert Decimal(rows[-1][3]) == Decimal("0.2331")


async def test_an_empty_workspace_reports_zeros_and_others_figures_stay_out(
    tenant: Tenant, other_tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _seed(tenant, sessions)
    report = await _report(other_tenant)
    assert report["lines"] == []
    assert report["total"] == {
        "key": "total",
        "messages": 0,
        "billable": 0,
        "estimated": "0",
        "actual": "0",
        "priced": 0,
    }


async def test_a_bad_period_or_grouping_says_what_and_where(tenant: Tenant) -> None:
    url = "/api/v1/reports/cost"
    naive = await tenant.client.get(url, params={"since": "2026-03-01T00:00:00"})
    assert "time zone" in problem(naive, "since")
    backwards = await tenant.client.get(
        url, params={"since": T0.isoformat(), "until": (T0 - timedelta(days=1)).isoformat()}
    )
    assert "since must be before until" in problem(backwards, "since")
    problem(await tenant.client.get(url, params={"group_by": "planet"}), "group_by")
    problem(await tenant.client.get(url, params={"format": "xml"}), "format")
    problem(await tenant.client.get(url, params={"until": "yesterday"}), "until")
