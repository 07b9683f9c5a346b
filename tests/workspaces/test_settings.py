"""Workspace settings over the API: a bad change answers 422 naming the field and saying what
is wrong, and changes nothing; a good one is kept and shown back."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_bad_input import problem
from tests.conftest import Tenant


async def test_bad_workspace_settings_change_nothing(tenant: Tenant) -> None:
    before = (await tenant.client.get("/api/v1/workspace")).json()["settings"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"global_control_percent": -1}, "global_control_percent"),
        ({"monthly_budget": "lots"}, "monthly_budget"),
        ({"quiet_hours": {"start": "22:00", "end": "08:00"}}, "quiet_hours"),
        ({"frequency_caps": [{"max_messages": 3, "hours": 0}]}, "frequency_caps[0].hours"),
    ]
    for changes, where in cases:
        problem(await tenant.client.patch("/api/v1/workspace/settings", json=changes), where)
    assert (await tenant.client.get("/api/v1/workspace")).json()["settings"] == before


@pytest.mark.parametrize(
    ("changes", "where", "message"),
    [
        ({"default_timezone": "Mars/Olympus_Mons"}, "default_timezone", "unknown time zone"),
        ({"global_control_percent": 16}, "global_control_percent", "less than or equal to 15"),
        (
            {"quiet_hours": {"start": "22:00", "end": "08:00"}},
            "quiet_hours",
            "quiet_hours.start must be before quiet_hours.end",
        ),
        ({"quiet_hours": {"start": "09:00", "lunch": True}}, "quiet_hours.lunch", "unknown field"),
        ({"colour": "blue"}, "colour", "unknown field 'colour'"),
        (
            {"campaign_budgets": {"spring": "-5"}},
            "campaign_budgets.spring",
            "greater than or equal to 0",
        ),
        (
            {"frequency_caps": [{"max_messages": 3, "hours": 24, "channel": "fax"}]},
            "frequency_caps[0].channel",
            "whatsapp",
        ),
    ],
)
async def test_a_bad_setting_says_what_and_where(
    tenant: Tenant, changes: dict[str, Any], where: str, message: str
) -> None:
    before = (await tenant.client.get("/api/v1/workspace")).json()["settings"]
    answer = await tenant.client.patch("/api/v1/workspace/settings", json=changes)
    assert message in problem(answer, where)
    assert (await tenant.client.get("/api/v1/workspace")).json()["settings"] == before


async def test_good_settings_are_kept_and_the_rest_left_alone(tenant: Tenant) -> None:
    before = (await tenant.client.get("/api/v1/workspace")).json()
    assert before["id"] == tenant.id and before["name"] == "Workspace A"
    changes = {
        "default_timezone": "America/Sao_Paulo",
        "quiet_hours": {"start": "09:00", "end": "20:00", "no_sundays": True},
        "frequency_caps": [{"max_messages": 1, "hours": 24, "channel": "whatsapp"}],
        "monthly_budget": "250.50",
    }
    patched = await tenant.client.patch("/api/v1/workspace/settings", json=changes)
    assert patched.status_code == 200, patched.text
    after = (await tenant.client.get("/api/v1/workspace")).json()["settings"]
    assert after == patched.json()
    assert after["default_timezone"] == "America/Sao_Paulo"
    assert after["quiet_hours"] == {"start": "09:00:00", "end": "20:00:00", "no_sundays": True}
    assert after["frequency_caps"] == [{"max_messages": 1, "hours": 24, "channel": "whatsapp"}]
    assert after["monthly_budget"] == "250.50"
    untouched = {k: v for k, v in before["settings"].items() if k not in changes}
    assert {k: after[k] for k in untouched} == untouched


async def test_settings_are_per_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    patched = await tenant.client.patch(
        "/api/v1/workspace/settings", json={"business_name": "Loja da Ana"}
    )
    assert patched.status_code == 200, patched.text
    other = (await other_tenant.client.get("/api/v1/workspace")).json()
    assert other["settings"]["business_name"] == "Workspace B"
