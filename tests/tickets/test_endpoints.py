"""/api/v1/tickets: conversations handed to people, opened by hand or by a flow, updated,
replied to within the platform's window and resolved."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import Stack, whatsapp_stack
from tests.conftest import Tenant
from tests.flows.test_runtime_e2e import CATALOG, FINDER, USER, upload


async def _contact(tenant: Tenant, name: str = "Ana") -> str:
    created = await tenant.client.post(
        "/api/v1/contacts", json={"name": name, "urns": ["whatsapp:+5511999990000"]}
    )
    assert created.status_code == 201, created.text
    contact_id: str = created.json()["id"]
    return contact_id


async def _open(tenant: Tenant, contact_id: str, **body: Any) -> dict[str, Any]:
    opened = await tenant.client.post(
        f"/api/v1/contacts/{contact_id}/tickets", json={"summary": "Refund", **body}
    )
    assert opened.status_code == 201, opened.text
    ticket: dict[str, Any] = opened.json()
    return ticket


async def test_a_ticket_opened_by_hand_is_queued_for_its_team(tenant: Tenant) -> None:
    contact_id = await _contact(tenant)
    ticket = await _open(tenant, contact_id, team="billing", agent="bruno")
    assert (ticket["status"], ticket["team"], ticket["contact_id"]) == (
        "open",
        "billing",
        contact_id,
    )
    assert ticket["session_id"] is None and ticket["resolved_at"] is None
    assert [(h["event"], h["by"]) for h in ticket["history"]] == [("opened", "bruno")]

    queue = await tenant.client.get("/api/v1/tickets", params={"status": "open"})
    assert [t["id"] for t in queue.json()] == [ticket["id"]]
    assert (await tenant.client.get("/api/v1/tickets", params={"team": "support"})).json() == []
    by_contact = await tenant.client.get("/api/v1/tickets", params={"contact_id": contact_id})
    assert [t["id"] for t in by_contact.json()] == [ticket["id"]]
    detail = (await tenant.client.get(f"/api/v1/tickets/{ticket['id']}")).json()
    assert detail["summary"] == "Refund" and detail["transcript"] == []


async def test_a_second_handoff_joins_the_open_ticket(tenant: Tenant) -> None:
    contact_id = await _contact(tenant)
    first = await _open(tenant, contact_id)
    second = await _open(tenant, contact_id, summary="Still waiting")
    assert second["id"] == first["id"]
    assert [h["event"] for h in second["history"]] == ["opened", "handoff_again"]
    assert len((await tenant.client.get("/api/v1/tickets")).json()) == 1


async def test_updates_are_recorded_and_resolve_ends_the_ticket(tenant: Tenant) -> None:
    contact_id = await _contact(tenant)
    ticket = await _open(tenant, contact_id)
    url = f"/api/v1/tickets/{ticket['id']}"
    patched = await tenant.client.patch(
        url, json={"assignee": "bruno", "status": "pending", "team": "vip", "agent": "lead"}
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["assignee"], body["status"], body["team"]) == ("bruno", "pending", "vip")
    assert body["history"][-1]["event"] == "updated" and body["history"][-1]["by"] == "lead"
    mine = await tenant.client.get("/api/v1/tickets", params={"assignee": "bruno"})
    assert [t["id"] for t in mine.json()] == [ticket["id"]]

    resolved = await tenant.client.post(f"{url}/resolve", json={"hand_back": False})
    assert resolved.status_code == 200, resolved.text
    done = resolved.json()["ticket"]
    assert (done["status"], done["resolution"]) == ("resolved", "closed")
    assert done["resolved_at"] is not None and resolved.json()["bot_messages"] == []

    again = await tenant.client.post(f"{url}/resolve", json={})
    assert again.status_code == 409 and "already resolved" in again.json()["message"]
    late = await tenant.client.patch(url, json={"assignee": "zoe"})
    assert late.status_code == 409 and late.json()["where"] == "ticket_id"
    reply = await tenant.client.post(f"{url}/replies", json={"text": "hello?"})
    assert reply.status_code == 409 and "resolved" in reply.json()["message"]
    # Resolved, the contact may be handed over again: a new ticket opens.
    assert (await _open(tenant, contact_id))["id"] != ticket["id"]


async def test_bad_ticket_requests_say_what_and_where(tenant: Tenant) -> None:
    contact_id = await _contact(tenant)
    ticket = await _open(tenant, contact_id)
    url = f"/api/v1/tickets/{ticket['id']}"
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("PATCH", url, {"status": "resolved"}, "status"),
        ("PATCH", url, {"team": ""}, "team"),
        ("POST", f"{url}/replies", {}, "request"),
        ("POST", f"{url}/replies", {"text": "hi", "colour": "red"}, "colour"),
        ("POST", f"/api/v1/contacts/{contact_id}/tickets", {"summary": ""}, "summary"),
    ]
    for method, path, body, where in cases:
        answer = await tenant.client.request(method, path, json=body)
        assert answer.status_code == 422, (path, body, answer.text)
        assert answer.json()["where"].startswith(where), (path, body, answer.json())
    status = await tenant.client.get("/api/v1/tickets", params={"status": "closed"})
    assert status.status_code == 422
    assert (await tenant.client.get(url)).json()["status"] == "open"


async def test_tickets_of_another_workspace_are_not_found(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    ticket = await _open(tenant, await _contact(tenant))
    url = f"/api/v1/tickets/{ticket['id']}"
    assert (await other_tenant.client.get("/api/v1/tickets")).json() == []
    for method, path, body in (
        ("GET", url, None),
        ("PATCH", url, {"assignee": "mallory"}),
        ("POST", f"{url}/resolve", {}),
    ):
        answer = await other_tenant.client.request(method, path, json=body)
        assert answer.status_code == 404, (method, answer.text)
    assert (await tenant.client.get(url)).json()["status"] == "open"


async def test_agent_reply_outside_the_window_names_templates_instead(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await upload(stack, FINDER, CATALOG)
        await stack.add_template("order_update", "UTILITY", body="Your order {{1}} is on its way")
        await stack.sync_templates()
        await stack.add_user(USER)
        await stack.user_says(USER, "agent please")  # no flow starts on this; open by hand
        await stack.until(lambda: _has_contact(stack))
        contact_id = await stack.contact_for(USER)
        opened = await stack.api.post(
            f"/api/v1/contacts/{contact_id}/tickets", json={"summary": "Called about a refund"}
        )
        assert opened.status_code == 201, opened.text
        stack.clock.advance(timedelta(hours=25))
        r = await stack.api.post(
            f"/api/v1/tickets/{opened.json()['id']}/replies", json={"text": "Sorry for the wait"}
        )
        assert r.status_code == 409
        body = r.json()
        assert "24-hour window" in body["message"]
        thread = (await stack.api.get(f"/api/v1/contacts/{contact_id}/messages")).json()
        assert "Sorry for the wait" not in [m["text"] for m in thread]  # nothing half-written
        (suggested,) = body["templates"]
        assert (suggested["name"], suggested["category"]) == ("order_update", "utility")
        assert Decimal(suggested["estimated_cost"]) > 0  # a utility template outside the window
        await stack.grant(contact_id, topic="transactional")  # the order's basis
        template = await stack.api.post(
            f"/api/v1/tickets/{opened.json()['id']}/replies",
            json={
                "content": {"type": "template", "name": "order_update", "body": ["A-1"]},
            },
        )
        assert template.status_code == 201, template.text
        assert template.json()["status"] == "queued", template.json()["reason"]


async def _has_contact(stack: Stack) -> bool:
    r = await stack.api.get("/api/v1/contacts", params={"urn": f"whatsapp:{USER}"})
    return bool(r.json()["items"])
