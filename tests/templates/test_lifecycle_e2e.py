"""A template's life over the real stack: written here, linted, submitted to the (emulated)
platform, then moved only by the platform's webhooks — approved, recategorised, rejected,
paused and disabled — and refused by the policy before any HTTP call once it may not go out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import WABA_ID, Stack, whatsapp_stack

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "templates"
PROMO_UTILITY = """
name: weekend_note
category: UTILITY
language: en_US
components:
  body:
    text: "Hi {{1}}, this weekend only: 30% off everything with free shipping!"
    variables: [{field: first_name, default: there, example: Ana}]
"""


async def create(stack: Stack, source: str) -> list[dict[str, Any]]:
    r = await stack.api.post(
        f"/api/v1/channels/{stack.channel_id}/templates", json={"source": source}
    )
    assert r.status_code == 201, r.text
    created: list[dict[str, Any]] = r.json()
    return created


async def settled(stack: Stack, template_id: str, **expected: str) -> dict[str, Any]:
    async def reached() -> bool:
        got = (await stack.api.get(f"/api/v1/templates/{template_id}")).json()
        return all(got[k] == v for k, v in expected.items())

    await stack.until(reached)
    answer: dict[str, Any] = (await stack.api.get(f"/api/v1/templates/{template_id}")).json()
    return answer


async def review(stack: Stack) -> None:
    r = await stack.emulator.post("/_emulator/templates/review", json={"waba_id": WABA_ID})
    assert r.status_code == 200, r.text


async def test_submitted_then_approved_by_webhook_with_history(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        source = (EXAMPLES / "order_update.yaml").read_text(encoding="utf-8")
        (created,) = await create(stack, source)
        assert (created["status"], created["category"]) == ("pending", "utility")
        on_platform = (await stack.emulator.get("/_emulator/templates")).json()
        assert [(t["name"], t["status"]) for t in on_platform] == [("order_update", "PENDING")]
        await review(stack)
        done = await settled(stack, created["id"], status="approved")
        assert [(e["kind"], e["value"]) for e in done["history"]] == [
            ("status", "pending"),
            ("submitted", "utility"),
            ("status", "approved"),
        ]
        again = await stack.api.post(
            f"/api/v1/channels/{stack.channel_id}/templates", json={"source": source}
        )
        assert again.status_code == 409  # the same name and language exists


async def test_promotional_utility_is_recategorised_as_marketing_and_priced_so(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        (created,) = await create(stack, PROMO_UTILITY)
        assert "category-promotional" in {w["rule"] for w in created["warnings"]}
        await review(stack)
        done = await settled(stack, created["id"], status="approved", category="marketing")
        assert ("category", "utility", "marketing") in {
            (e["kind"], e["previous"], e["value"]) for e in done["history"]
        }


async def test_rejected_with_the_platforms_reason_when_miscategorised_is_refused(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        r = await stack.emulator.post(
            f"/_emulator/wabas/{WABA_ID}/template_settings", json={"reject_miscategorised": True}
        )
        assert r.status_code == 200, r.text
        (created,) = await create(stack, PROMO_UTILITY)
        await review(stack)
        done = await settled(stack, created["id"], status="rejected")
        assert done["status_reason"] == "INCORRECT_CATEGORY"
        (rejection,) = [e for e in done["history"] if e["value"] == "rejected"]
        assert rejection["detail"]["rejection_info"]["reason"]


async def test_paused_on_poor_feedback_then_disabled_and_refused_before_any_http_call(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        source = (EXAMPLES / "order_update.yaml").read_text(encoding="utf-8")
        (created,) = await create(stack, source)
        await review(stack)
        approved = await settled(stack, created["id"], status="approved")
        provider_id = approved["provider_id"]

        async def red() -> None:
            r = await stack.emulator.post(
                f"/_emulator/templates/{provider_id}/feedback", json={"quality": "RED"}
            )
            assert r.status_code == 200, r.text

        await red()
        await settled(stack, created["id"], status="paused", quality="red")
        await stack.emulator.post("/_emulator/clock/advance", json={"seconds": 3 * 3600 + 1})
        await settled(stack, created["id"], status="approved")
        await red()
        await settled(stack, created["id"], status="paused")
        await stack.emulator.post("/_emulator/clock/advance", json={"seconds": 6 * 3600 + 1})
        await settled(stack, created["id"], status="approved")
        await red()
        done = await settled(stack, created["id"], status="disabled")
        statuses = [e["value"] for e in done["history"] if e["kind"] == "status"]
        assert statuses == [
            "pending",
            "approved",
            "paused",
            "approved",
            "paused",
            "approved",
            "disabled",
        ]

        r = await stack.api.post("/api/v1/contacts", json={"urns": ["whatsapp:+5511933332222"]})
        contact_id = r.json()["id"]
        await stack.grant(contact_id, topic="transactional")
        before = len(await stack.requests())
        answer = await stack.send(
            contact_id,
            "utility",
            {
                "type": "template",
                "name": "order_update",
                "header_text": ["A-1"],
                "body": ["Ana", "A-1", "Friday"],
                "buttons": [{"index": 0, "sub_type": "url", "value": "A-1"}],
            },
        )
        assert (answer["status"], answer["reason"]) == ("refused", "template_not_approved")
        for _ in range(3):
            await stack.work()
        assert len(await stack.requests()) == before


async def test_lint_errors_submit_nothing_and_name_line_and_rule(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        bad = (EXAMPLES / "bad" / "promo_as_utility.yaml").read_text(encoding="utf-8")
        r = await stack.api.post(
            f"/api/v1/channels/{stack.channel_id}/templates",
            json={"source": bad, "origin": "promo_as_utility.yaml"},
        )
        assert r.status_code == 422
        findings = r.json()["findings"]
        assert {"name-format", "url-variable"} <= {f["rule"] for f in findings}
        assert all(f["line"] for f in findings)
        assert (await stack.emulator.get("/_emulator/templates")).json() == []
        assert (await stack.api.get("/api/v1/templates")).json() == []


async def test_variables_are_filled_from_the_contact_overrides_and_defaults(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        source = (EXAMPLES / "order_update.yaml").read_text(encoding="utf-8")
        (created,) = await create(stack, source)
        await review(stack)
        await settled(stack, created["id"], status="approved")
        r = await stack.api.post("/api/v1/fields", json={"key": "order_id", "value_type": "text"})
        assert r.status_code == 201, r.text
        await stack.add_user("5511933332222")
        r = await stack.api.post(
            "/api/v1/contacts",
            json={
                "name": "Ana Silva",
                "urns": ["whatsapp:+5511933332222"],
                "fields": {"order_id": "A-77"},
            },
        )
        contact_id = r.json()["id"]
        await stack.grant(contact_id, topic="transactional")

        async def send(variables: dict[str, str]) -> Any:
            return await stack.api.post(
                "/api/v1/messages",
                json={
                    "contact_id": contact_id,
                    "purpose": "utility",
                    "content": {"type": "template", "name": "order_update"},
                    "variables": variables,
                },
            )

        missing = await send({})
        assert missing.status_code == 422 and missing.json()["where"] == "variables"
        assert "delivery_date" in missing.json()["message"]
        ok = await send({"delivery_date": "Friday"})
        assert ok.status_code == 201 and ok.json()["status"] == "queued", ok.text

        async def arrived() -> bool:
            return bool(await stack.inbox("5511933332222"))

        await stack.until(arrived)
        (item,) = await stack.inbox("5511933332222")
        components = {c["type"]: c for c in item["template"]["components"]}
        assert [p["text"] for p in components["body"]["parameters"]] == ["Ana", "A-77", "Friday"]
        assert [p["text"] for p in components["header"]["parameters"]] == ["A-77"]
        assert components["button"]["parameters"] == [{"type": "text", "text": "A-77"}]


async def test_an_edit_goes_back_to_review_within_the_platforms_limits(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        source = (EXAMPLES / "order_update.yaml").read_text(encoding="utf-8")
        (created,) = await create(stack, source)
        await review(stack)
        await settled(stack, created["id"], status="approved")
        changed = source.replace(
            "Questions? Just reply to this message.", "Reply here with questions."
        )
        r = await stack.api.patch(f"/api/v1/templates/{created['id']}", json={"source": changed})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "pending"
        assert r.json()["history"][-1]["kind"] == "edited"
        await stack.emulator.post("/_emulator/clock/advance", json={"seconds": 61})
        await settled(stack, created["id"], status="approved")
        again = await stack.api.patch(f"/api/v1/templates/{created['id']}", json={"source": source})
        assert again.status_code == 409 and "once a day" in again.json()["message"]
        other = source.replace("name: order_update", "name: order_other")
        wrong = await stack.api.patch(f"/api/v1/templates/{created['id']}", json={"source": other})
        assert wrong.status_code == 422 and "order_update" in wrong.json()["message"]


async def test_a_workspace_that_requires_opt_out_wording_refuses_marketing_without_it(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        r = await stack.api.patch(
            "/api/v1/workspace/settings", json={"marketing_templates_need_opt_out": True}
        )
        assert r.status_code == 200, r.text
        no_opt_out = (
            "name: flash_sale\ncategory: MARKETING\nlanguage: en_US\n"
            "components: {body: {text: 'Our flash sale starts today, see you there.'}}\n"
        )
        refused = await stack.api.post(
            f"/api/v1/channels/{stack.channel_id}/templates", json={"source": no_opt_out}
        )
        assert refused.status_code == 422
        assert "marketing-opt-out" in {f["rule"] for f in refused.json()["findings"]}
        with_opt_out = no_opt_out.replace("see you there.", "see you there. Reply STOP to opt out.")
        (created,) = await create(stack, with_opt_out)
        assert created["category"] == "marketing"
