"""The cost report over the real stack: what the rate card estimated and the platform
priced, grouped by market, template or category."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import whatsapp_stack
from tests.pricing.test_costs_e2e import BR_USER, contact, delivered, template


async def test_cost_report_groups_estimates_and_actuals(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await stack.add_template("spring_sale", "MARKETING", body="Sale {{1}}")
        await stack.add_template("order_update", "UTILITY", body="Order {{1}}")
        await stack.sync_templates()
        brazil = await contact(stack, BR_USER)
        germany = await contact(stack, "4915112345678")
        sent = [
            await stack.send(brazil, "marketing", template("spring_sale", "20%")),
            await stack.send(brazil, "utility", template("order_update", "A-1")),
            await stack.send(germany, "utility", template("order_update", "A-2")),
        ]
        for message in sent:
            await delivered(stack, message["id"])
        by_market = (
            await stack.api.get("/api/v1/reports/cost", params={"group_by": "market"})
        ).json()
        lines = {line["key"]: line for line in by_market["lines"]}
        assert set(lines) == {"BR", "DE"}
        assert lines["BR"]["messages"] == 2 and lines["DE"]["messages"] == 1
        expected_br = Decimal(sent[0]["cost_estimate"]) + Decimal(sent[1]["cost_estimate"])
        assert Decimal(lines["BR"]["estimated"]) == expected_br
        assert Decimal(lines["BR"]["actual"]) == expected_br
        total = sum(Decimal(s["cost_estimate"]) for s in sent)
        assert Decimal(by_market["total"]["actual"]) == total
        by_template = (
            await stack.api.get("/api/v1/reports/cost", params={"group_by": "template"})
        ).json()
        assert {line["key"]: line["messages"] for line in by_template["lines"]} == {
            "spring_sale": 1,
            "order_update": 2,
        }
        csv_text = (
            await stack.api.get(
                "/api/v1/reports/cost", params={"group_by": "category", "format": "csv"}
            )
        ).text
        assert csv_text.splitlines()[0] == "category,messages,billable,estimated,actual,priced"
        bad = await stack.api.get("/api/v1/reports/cost", params={"group_by": "planet"})
        assert bad.status_code == 422 and bad.json()["where"] == "group_by"
