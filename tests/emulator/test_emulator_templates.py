"""Template lifecycle in the emulator: creation with the platform's validation, review by
rules, quality feedback with pauses, edits and deletion.

The scenarios that end in a webhook run the real stack (`whatsapp_stack`): the emulator posts
signed template webhooks to Threadline's receiver, the worker applies them, and the tests read
what Threadline stored in its `templates` table and which events it received, in order. Pure
validation and limits run against the emulator alone (in-process, no callback URL).

The emulator keeps its own clock (`POST /_emulator/clock/advance`), separate from Threadline's
(`stack.clock`): review delays and pauses are measured on the emulator's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.channels.whatsapp.harness import PHONE_NUMBER_ID, TOKEN, WABA_ID, Stack, whatsapp_stack
from threadline.emulator.app import create_emulator
from threadline.inbox.models import InboxEvent
from threadline.templates.models import Template

VERSION = "v21.0"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TEMPLATES = f"/{VERSION}/{WABA_ID}/message_templates"
OTHER_WABA = "102290129340399"
ANA = "5511900000001"
HOUR = 3600.0


def utility(name: str, text: str = "Your order {{1}} has shipped.", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "language": "en_US",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": text, "example": {"body_text": [["A-1"]]}}],
        **extra,
    }


async def create(http: httpx.AsyncClient, body: Any, path: str = TEMPLATES) -> httpx.Response:
    return await http.post(path, json=body, headers=AUTH)


async def create_ok(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    r = await create(http, body)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "PENDING"
    template_id: str = r.json()["id"]
    return template_id


async def advance(http: httpx.AsyncClient, seconds: float) -> None:
    r = await http.post("/_emulator/clock/advance", json={"seconds": seconds})
    assert r.status_code == 200, r.text


async def review(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await http.post("/_emulator/templates/review")
    assert r.status_code == 200, r.text
    reviewed: list[dict[str, Any]] = r.json()["reviewed"]
    return reviewed


async def on_platform(http: httpx.AsyncClient, template_id: str) -> dict[str, Any]:
    """The template as the emulator keeps it (status, category, pauses, history)."""
    r = await http.get("/_emulator/templates")
    assert r.status_code == 200, r.text
    found = [t for t in r.json() if t["id"] == template_id]
    assert found, f"no template {template_id} on the platform"
    template: dict[str, Any] = found[0]
    return template


async def feedback(http: httpx.AsyncClient, template_id: str, quality: str) -> dict[str, Any]:
    r = await http.post(f"/_emulator/templates/{template_id}/feedback", json={"quality": quality})
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def send_template(http: httpx.AsyncClient, name: str) -> httpx.Response:
    return await http.post(
        f"/{VERSION}/{PHONE_NUMBER_ID}/messages",
        headers=AUTH,
        json={
            "messaging_product": "whatsapp",
            "to": ANA,
            "type": "template",
            "template": {
                "name": name,
                "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "A-1"}]}],
            },
        },
    )


# -- Threadline's side ----------------------------------------------------------------------
async def stored(sessions: async_sessionmaker[AsyncSession], name: str) -> Template | None:
    async with sessions() as s:
        found: Template | None = await s.scalar(select(Template).where(Template.name == name))
    return found


async def settled(stack: Stack, name: str, within: float = 10.0, **expected: Any) -> Template:
    """Run Threadline's worker until its stored template has the expected fields."""

    async def check() -> bool:
        found = await stored(stack.sessions, name)
        return found is not None and all(getattr(found, k) == v for k, v in expected.items())

    await stack.until(check, within)
    found = await stored(stack.sessions, name)
    assert found is not None
    return found


async def received(stack: Stack) -> list[tuple[str, str]]:
    """The template webhooks Threadline received, in arrival order, as (kind, value)."""
    async with stack.sessions() as s:
        rows = await s.scalars(
            select(InboxEvent)
            .where(InboxEvent.kind.like("Template%"))
            .order_by(InboxEvent.received_at, InboxEvent.id)
        )
        out = []
        for row in rows:
            data = row.payload["data"]
            value = data.get("status") or data.get("new_category") or data.get("new_score")
            out.append((row.kind, str(value)))
    return out


async def received_details(stack: Stack, status: str) -> list[dict[str, Any]]:
    """The `detail` (rejection_info, other_info, disable_info) of each status webhook
    Threadline received with that status, in arrival order."""
    async with stack.sessions() as s:
        rows = await s.scalars(
            select(InboxEvent)
            .where(InboxEvent.kind == "TemplateStatusChange")
            .order_by(InboxEvent.received_at, InboxEvent.id)
        )
        return [
            row.payload["data"].get("detail") or {}
            for row in rows
            if row.payload["data"].get("status") == status
        ]


async def received_detail(stack: Stack, status: str) -> dict[str, Any]:
    details = await received_details(stack, status)
    assert details, f"Threadline received no {status} webhook"
    return details[0]


# -- the emulator alone ---------------------------------------------------------------------
@pytest.fixture
async def emu() -> AsyncIterator[httpx.AsyncClient]:
    """The emulator in-process with one number per WABA and no callback URL."""
    app = create_emulator(7)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://emulator.test"
        ) as http,
    ):
        for pnid, waba in ((PHONE_NUMBER_ID, WABA_ID), ("106540352242923", OTHER_WABA)):
            r = await http.post(
                "/_emulator/numbers",
                json={
                    "phone_number_id": pnid,
                    "waba_id": waba,
                    "display_phone_number": "15550783881",
                    "access_token": TOKEN,
                    "app_secret": "secret",
                },
            )
            assert r.status_code == 200, r.text
        r = await http.post("/_emulator/users", json={"wa_id": ANA})
        assert r.status_code == 200, r.text
        yield http


# -- review ---------------------------------------------------------------------------------
async def test_submitted_template_is_pending_until_the_review_delay_then_approved(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        r = await create(stack.emulator, utility("order_shipped"))
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["status"] == "PENDING" and answer["category"] == "UTILITY"
        assert (await send_template(stack.emulator, "order_shipped")).json()["error"][
            "code"
        ] == 132001
        # Threadline learns of the submission by syncing: pending, with the platform's id.
        assert await stack.sync_templates() == 1
        pending = await stored(sessions, "order_shipped")
        assert pending is not None
        assert (pending.status, pending.provider_id) == ("pending", answer["id"])

        await advance(stack.emulator, 59)
        assert (await on_platform(stack.emulator, answer["id"]))["status"] == "PENDING"
        await advance(stack.emulator, 2)  # past the 60 s review delay
        assert (await on_platform(stack.emulator, answer["id"]))["status"] == "APPROVED"

        approved = await settled(stack, "order_shipped", status="approved")
        assert (approved.category, approved.status_reason) == ("utility", "NONE")
        assert await received(stack) == [("TemplateStatusChange", "APPROVED")]
        await stack.add_user(ANA)
        assert (await send_template(stack.emulator, "order_shipped")).status_code == 200


async def test_promotional_utility_template_is_recategorised_as_marketing(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        template_id = await create_ok(
            stack.emulator,
            utility("order_bonus", "Order {{1}} shipped! Use coupon SAVE10 for 20% off."),
        )
        await stack.sync_templates()
        before = await stored(sessions, "order_bonus")
        assert before is not None and before.category == "utility"

        assert await review(stack.emulator) == [
            {
                "id": template_id,
                "name": "order_bonus",
                "status": "APPROVED",
                "category": "MARKETING",
                "reason": None,
            }
        ]
        got = await settled(stack, "order_bonus", status="approved", category="marketing")
        assert got.provider_id == template_id
        assert await received(stack) == [
            ("TemplateCategoryChange", "MARKETING"),
            ("TemplateStatusChange", "APPROVED"),
        ]


async def test_miscategorised_template_is_rejected_when_the_waba_says_so(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        r = await stack.emulator.post(
            f"/_emulator/wabas/{WABA_ID}/template_settings", json={"reject_miscategorised": True}
        )
        assert r.json()["reject_miscategorised"] is True
        template_id = await create_ok(
            stack.emulator, utility("order_deal", "Order {{1}}: limited time offer inside!")
        )
        # Known to Threadline before the verdict (a status webhook for a template it has never
        # seen creates the row but does not keep the reason).
        await stack.sync_templates()
        await advance(stack.emulator, 61)
        platform = await on_platform(stack.emulator, template_id)
        assert (platform["status"], platform["category"]) == ("REJECTED", "UTILITY")
        assert platform["rejected_reason"] == "INCORRECT_CATEGORY"

        got = await settled(stack, "order_deal", status="rejected")
        assert (got.category, got.status_reason) == ("utility", "INCORRECT_CATEGORY")
        # rejection_info reached Threadline in the event, though its template row keeps only
        # the reason.
        detail = await received_detail(stack, "REJECTED")
        assert set(detail["rejection_info"]) == {"reason", "recommendation"}
        assert (await send_template(stack.emulator, "order_deal")).json()["error"]["code"] == 132001


async def test_abusive_wording_is_rejected(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        await create_ok(
            stack.emulator, utility("rude_notice", "Order {{1}} is late, stop being stupid.")
        )
        await stack.sync_templates()
        [verdict] = await review(stack.emulator)
        assert (verdict["status"], verdict["reason"]) == ("REJECTED", "ABUSIVE_CONTENT")
        got = await settled(stack, "rude_notice", status="rejected")
        assert got.status_reason == "ABUSIVE_CONTENT"


async def test_review_rules_in_the_emulator(emu: httpx.AsyncClient) -> None:
    await create_ok(emu, utility("plain_notice", "Your appointment {{1}} is confirmed."))
    await create_ok(emu, utility("pt_promo", "Pedido {{1}}: promoção com frete grátis!"))
    await create_ok(emu, utility("es_promo", "Pedido {{1}}: ¡oferta y descuento hoy!"))
    await create_ok(emu, utility("wholesale_note", "Wholesale order {{1}} is ready."))
    await create_ok(emu, utility("skill_note", "Your skill test {{1}} is booked."))
    adjacent = utility("glued", "Order {{1}}{{2}} shipped.")
    adjacent["components"][0]["example"] = {"body_text": [["A", "B"]]}
    await create_ok(emu, adjacent)
    verdicts = {v["name"]: (v["status"], v["category"], v["reason"]) for v in await review(emu)}
    assert verdicts == {
        "plain_notice": ("APPROVED", "UTILITY", None),
        "pt_promo": ("APPROVED", "MARKETING", None),
        "es_promo": ("APPROVED", "MARKETING", None),
        "wholesale_note": ("APPROVED", "UTILITY", None),  # "sale" only as a word
        "skill_note": ("APPROVED", "UTILITY", None),
        "glued": ("REJECTED", "UTILITY", "INVALID_FORMAT"),
    }
    assert await review(emu) == []  # nothing left pending


# -- quality feedback and pauses ------------------------------------------------------------
async def approved_in_threadline(stack: Stack, name: str) -> str:
    template_id = await create_ok(stack.emulator, utility(name))
    await review(stack.emulator)
    await settled(stack, name, status="approved")
    await stack.add_user(ANA)
    return template_id


async def test_red_feedback_pauses_for_3_hours_then_the_template_is_approved_again(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        template_id = await approved_in_threadline(stack, "order_update")
        platform = await feedback(stack.emulator, template_id, "RED")
        assert (platform["status"], platform["pause_count"]) == ("PAUSED", 1)
        paused = await settled(stack, "order_update", status="paused", quality="red")
        assert paused.status_reason == "NONE"
        info = (await received_detail(stack, "PAUSED"))["other_info"]
        assert info["title"] == "FIRST_PAUSE" and "3 hours" in info["description"]
        refused = await send_template(stack.emulator, "order_update")
        assert (refused.status_code, refused.json()["error"]["code"]) == (400, 132015)

        await advance(stack.emulator, 3 * HOUR - 5)
        assert (await on_platform(stack.emulator, template_id))["status"] == "PAUSED"
        await advance(stack.emulator, 10)
        await settled(stack, "order_update", status="approved")
        assert (await send_template(stack.emulator, "order_update")).status_code == 200
        assert await received(stack) == [
            ("TemplateStatusChange", "APPROVED"),
            ("TemplateQualityChange", "RED"),
            ("TemplateStatusChange", "PAUSED"),
            ("TemplateStatusChange", "APPROVED"),
        ]
        details = await received_details(stack, "APPROVED")
        assert details[0] == {}
        assert details[1]["other_info"]["title"] == "UNPAUSE"


async def test_second_pause_is_6_hours_and_the_third_red_disables(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        template_id = await approved_in_threadline(stack, "order_update")
        await feedback(stack.emulator, template_id, "RED")
        await advance(stack.emulator, 3 * HOUR)
        second = await feedback(stack.emulator, template_id, "RED")
        assert (second["status"], second["pause_count"]) == ("PAUSED", 2)
        await settled(stack, "order_update", status="paused")
        await advance(stack.emulator, 6 * HOUR - 5)
        assert (await on_platform(stack.emulator, template_id))["status"] == "PAUSED"
        await advance(stack.emulator, 10)
        assert (await on_platform(stack.emulator, template_id))["status"] == "APPROVED"

        third = await feedback(stack.emulator, template_id, "RED")
        assert third["status"] == "DISABLED"
        disabled = await settled(stack, "order_update", status="disabled")
        assert disabled.quality == "red"
        detail = await received_detail(stack, "DISABLED")
        assert isinstance(detail["disable_info"]["disable_date"], int)
        refused = await send_template(stack.emulator, "order_update")
        assert refused.json()["error"]["code"] == 132016

        # What the platform did, in order (one quality change: it stayed RED).
        history = [(h["event"], (h.get("other_info") or {}).get("title")) for h in third["history"]]
        assert history == [
            ("PENDING", None),
            ("APPROVED", None),
            ("QUALITY", None),
            ("PAUSED", "FIRST_PAUSE"),
            ("APPROVED", "UNPAUSE"),
            ("PAUSED", "SECOND_PAUSE"),
            ("APPROVED", "UNPAUSE"),
            ("DISABLED", "DISABLED"),
        ]
        kinds = await received(stack)
        assert kinds[-1] == ("TemplateStatusChange", "DISABLED")
        assert ("TemplateStatusChange", "PAUSED") in kinds


async def test_yellow_and_green_feedback_change_quality_without_pausing(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        template_id = await approved_in_threadline(stack, "order_update")
        assert (await feedback(stack.emulator, template_id, "YELLOW"))["status"] == "APPROVED"
        await settled(stack, "order_update", quality="yellow", status="approved")
        await feedback(stack.emulator, template_id, "GREEN")
        await settled(stack, "order_update", quality="green", status="approved")


async def test_re_approval_after_an_edit_reaches_threadline(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        template_id = await approved_in_threadline(stack, "order_update")
        r = await stack.emulator.post(
            f"/{VERSION}/{template_id}",
            headers=AUTH,
            json={"components": utility("x", "Order {{1}} is on its way.")["components"]},
        )
        assert r.json() == {"success": True}
        await settled(stack, "order_update", status="pending")
        # The platform reviews a minute later: a new notification, though identical in content.
        advanced = await stack.emulator.post("/_emulator/clock/advance", json={"seconds": 61})
        assert advanced.status_code == 200
        await settled(stack, "order_update", within=3.0, status="approved")


# -- edits and deletion ---------------------------------------------------------------------
async def test_edit_sends_an_approved_template_back_to_review(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with whatsapp_stack(database_url, sessions) as stack:
        template_id = await approved_in_threadline(stack, "order_update")
        r = await stack.emulator.post(
            f"/{VERSION}/{template_id}",
            headers=AUTH,
            json={"components": utility("x", "Order {{1}}: 10% off your next one")["components"]},
        )
        assert r.json() == {"success": True}
        await settled(stack, "order_update", status="pending")
        assert (await send_template(stack.emulator, "order_update")).json()["error"][
            "code"
        ] == 132001
        [verdict] = await review(stack.emulator)
        assert (verdict["status"], verdict["category"]) == ("APPROVED", "MARKETING")
        # Recategorised on review: the category update and an APPROVED that differs from the
        # first one (its category) both reach Threadline.
        await settled(stack, "order_update", category="marketing", status="approved")
        listed = (await stack.emulator.get(TEMPLATES, headers=AUTH)).json()["data"]
        assert listed[0]["components"][0]["text"] == "Order {{1}}: 10% off your next one"


async def test_edit_limits_once_a_day_and_ten_times_in_30_days(emu: httpx.AsyncClient) -> None:
    template_id = await create_ok(emu, utility("order_update"))
    edit = f"/{VERSION}/{template_id}"

    async def change(n: int) -> httpx.Response:
        body = {"components": utility("x", f"Order {{{{1}}}} update number {n}.")["components"]}
        return await emu.post(edit, headers=AUTH, json=body)

    pending = await change(0)
    assert pending.status_code == 400 and "only APPROVED" in pending.json()["error"]["message"]
    await review(emu)
    for n in range(1, 11):
        r = await change(n)
        assert r.status_code == 200, (n, r.text)
        again = await change(n)
        assert again.status_code == 400  # in review now
        await advance(emu, 61)  # reviewed: approved again
        assert (await on_platform(emu, template_id))["status"] == "APPROVED"
        if n == 1:
            too_soon = await change(99)
            assert too_soon.status_code == 400
            error = too_soon.json()["error"]
            assert error["code"] == 100 and "once in 24 hours" in error["message"]
        await advance(emu, 24 * HOUR)
    eleventh = await change(11)
    assert eleventh.status_code == 400
    assert "10 times in 30 days" in eleventh.json()["error"]["message"]
    await advance(emu, 21 * 24 * HOUR)  # the first edits fall out of the 30 days
    assert (await change(12)).status_code == 200


async def test_rejected_templates_can_be_edited_without_limit(emu: httpx.AsyncClient) -> None:
    template_id = await create_ok(emu, utility("rude", "Order {{1}}, you idiot."))
    await review(emu)
    for n in range(3):
        body = {"components": utility("x", f"Order {{{{1}}}} note {n}, you idiot.")["components"]}
        r = await emu.post(f"/{VERSION}/{template_id}", headers=AUTH, json=body)
        assert r.status_code == 200, r.text
        assert (await review(emu))[0]["status"] == "REJECTED"
    body = {"components": utility("x")["components"], "category": "MARKETING"}
    assert (await emu.post(f"/{VERSION}/{template_id}", headers=AUTH, json=body)).status_code == 200
    [verdict] = await review(emu)
    assert (verdict["status"], verdict["category"]) == ("APPROVED", "MARKETING")
    bad = await emu.post(f"/{VERSION}/{template_id}", headers=AUTH, json={"name": "other"})
    assert bad.status_code == 400 and "name" in bad.json()["error"]["message"]


async def test_delete_by_name_removes_every_language(emu: httpx.AsyncClient) -> None:
    await create_ok(emu, utility("order_update"))
    await create_ok(emu, {**utility("order_update"), "language": "pt_BR"})
    await create_ok(emu, utility("kept"))
    await review(emu)
    r = await emu.delete(TEMPLATES, params={"name": "order_update"}, headers=AUTH)
    assert r.json() == {"success": True}
    names = [t["name"] for t in (await emu.get(TEMPLATES, headers=AUTH)).json()["data"]]
    assert names == ["kept"]
    assert (await send_template(emu, "order_update")).json()["error"]["code"] == 132001
    missing = await emu.delete(TEMPLATES, params={"name": "order_update"}, headers=AUTH)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 100
    # An approved name cannot be reused for 30 days.
    reuse = await create(emu, utility("order_update"))
    assert reuse.status_code == 400 and "30 days" in reuse.json()["error"]["message"]
    await advance(emu, 30 * 24 * HOUR)
    await create_ok(emu, utility("order_update"))


async def test_delete_one_language_by_hsm_id(emu: httpx.AsyncClient) -> None:
    english = await create_ok(emu, utility("order_update"))
    await create_ok(emu, {**utility("order_update"), "language": "pt_BR"})
    r = await emu.delete(
        TEMPLATES, params={"name": "order_update", "hsm_id": english}, headers=AUTH
    )
    assert r.status_code == 200
    languages = [t["language"] for t in (await emu.get(TEMPLATES, headers=AUTH)).json()["data"]]
    assert languages == ["pt_BR"]


# -- validation and limits ------------------------------------------------------------------
def body_with(*components: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "name": "t",
        "language": "en_US",
        "category": "MARKETING",
        **fields,
        "components": list(components),
    }


BODY = {"type": "BODY", "text": "Hello there"}
OTP = {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (body_with(BODY, name="Order_Update"), "name"),
        (body_with(BODY, name="order-update"), "name"),
        (body_with(BODY, name="a" * 513), "name"),
        (body_with(BODY, language=""), "language"),
        (body_with(BODY, category="PROMOTION"), "category"),
        (body_with(BODY, parameter_format="MIXED"), "parameter_format"),
        ({"name": "t", "language": "en_US", "category": "UTILITY"}, "components"),
        (body_with({"type": "HEADER", "format": "TEXT", "text": "Hi"}), "components"),
        (body_with(BODY, {"type": "SIDEBAR"}), "components[1].type"),
        (body_with(BODY, BODY), "components[1].type"),
        (body_with({"type": "BODY", "text": "x" * 1025}), "components[0].text"),
        (body_with({"type": "BODY", "text": "Hi {{1}}"}), "components[0].example"),
        (
            body_with(
                {"type": "BODY", "text": "Hi {{1}} {{3}}", "example": {"body_text": [["a", "b"]]}}
            ),
            "components[0].text",
        ),
        (
            body_with(
                {"type": "BODY", "text": "Hi {{1}} and {{2}}", "example": {"body_text": [["a"]]}}
            ),
            "components[0].example.body_text",
        ),
        (
            body_with({"type": "BODY", "text": "Hi {{first_name}}"}, parameter_format="NAMED"),
            "components[0].example",
        ),
        (
            body_with(
                {
                    "type": "BODY",
                    "text": "Hi {{first_name}}",
                    "example": {
                        "body_text_named_params": [{"param_name": "name", "example": "Ana"}]
                    },
                },
                parameter_format="NAMED",
            ),
            "components[0].example.body_text_named_params",
        ),
        (body_with({"type": "BODY", "text": "Hi {{name}}"}), "components[0].text"),
        (
            body_with({"type": "HEADER", "format": "TEXT", "text": "h" * 61}, BODY),
            "components[0].text",
        ),
        (
            body_with({"type": "HEADER", "format": "TEXT", "text": "Hi {{1}}"}, BODY),
            "components[0].example",
        ),
        (
            body_with({"type": "HEADER", "format": "IMAGE"}, BODY),
            "components[0].example.header_handle",
        ),
        (body_with({"type": "HEADER", "format": "SOUND"}, BODY), "components[0].format"),
        (body_with(BODY, {"type": "FOOTER", "text": "f" * 61}), "components[1].text"),
        (body_with(BODY, {"type": "FOOTER", "text": "Reply {{1}}"}), "components[1].text"),
        (
            body_with(
                BODY,
                {
                    "type": "BUTTONS",
                    "buttons": [{"type": "QUICK_REPLY", "text": f"b{i}"} for i in range(11)],
                },
            ),
            "components[1].buttons",
        ),
        (
            body_with(
                BODY, {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "x" * 26}]}
            ),
            "components[1].buttons[0].text",
        ),
        (
            body_with(
                BODY,
                {
                    "type": "BUTTONS",
                    "buttons": [{"type": "URL", "text": "Track", "url": "https://x.test/{{1}}"}],
                },
            ),
            "components[1].buttons[0].example",
        ),
        (
            body_with(
                BODY, {"type": "BUTTONS", "buttons": [{"type": "PHONE_NUMBER", "text": "Call"}]}
            ),
            "components[1].buttons[0].phone_number",
        ),
        (
            body_with(
                BODY, {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "C" * 16}]}
            ),
            "components[1].buttons[0].example",
        ),
        (body_with(BODY, OTP), "components[1].buttons[0].type"),
        (body_with(BODY, OTP, category="AUTHENTICATION"), "components[0].text"),
        (
            body_with(
                {"type": "HEADER", "format": "TEXT", "text": "Code"},
                {"type": "BODY"},
                OTP,
                category="AUTHENTICATION",
            ),
            "components[0]",
        ),
        (body_with({"type": "BODY"}, category="AUTHENTICATION"), "components"),
        (
            body_with(
                {"type": "BODY"},
                {"type": "FOOTER", "code_expiration_minutes": 91},
                OTP,
                category="AUTHENTICATION",
            ),
            "components[1].code_expiration_minutes",
        ),
        (
            body_with(
                {"type": "BODY"},
                {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "ONE_TAP"}]},
                category="AUTHENTICATION",
            ),
            "components[1].buttons[0].supported_apps",
        ),
    ],
)
async def test_invalid_bodies_are_refused_with_code_100_naming_the_field(
    emu: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    r = await create(emu, body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == 100
    assert error["message"].startswith(f"(#100) Invalid parameter: {field}:"), error["message"]
    assert (await emu.get(TEMPLATES, headers=AUTH)).json()["data"] == []


async def test_name_and_language_are_unique_in_a_waba(emu: httpx.AsyncClient) -> None:
    await create_ok(emu, utility("order_update"))
    again = await create(emu, utility("order_update"))
    assert again.status_code == 400
    assert again.json()["error"]["message"].startswith("(#100) Invalid parameter: name:")
    await create_ok(emu, {**utility("order_update"), "language": "es"})
    other = await create(emu, utility("order_update"), f"/{VERSION}/{OTHER_WABA}/message_templates")
    assert other.status_code == 200


async def test_valid_rich_and_named_templates_are_accepted(emu: httpx.AsyncClient) -> None:
    rich = body_with(
        {
            "type": "HEADER",
            "format": "TEXT",
            "text": "Order {{1}}",
            "example": {"header_text": ["A-1"]},
        },
        {
            "type": "BODY",
            "text": "Hi {{1}}, order {{2}} ships today.",
            "example": {"body_text": [["Ana", "A-1"]]},
        },
        {"type": "FOOTER", "text": "Reply STOP to opt out"},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Thanks"},
                {
                    "type": "URL",
                    "text": "Track",
                    "url": "https://x.test/t/{{1}}",
                    "example": ["https://x.test/t/A-1"],
                },
                {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550783881"},
                {"type": "COPY_CODE", "example": "A1B2"},
            ],
        },
        name="rich_one",
        category="UTILITY",
    )
    named = body_with(
        {
            "type": "BODY",
            "text": "Hi {{first_name}}, your code is {{code}}",
            "example": {
                "body_text_named_params": [
                    {"param_name": "first_name", "example": "Ana"},
                    {"param_name": "code", "example": "1234"},
                ]
            },
        },
        name="named_one",
        category="UTILITY",
        parameter_format="NAMED",
    )
    for body in (rich, named):
        r = await create(emu, body)
        assert r.status_code == 200, r.text
    listed = {t["name"]: t for t in (await emu.get(TEMPLATES, headers=AUTH)).json()["data"]}
    assert listed["named_one"]["parameter_format"] == "NAMED"
    assert [c["type"] for c in listed["rich_one"]["components"]] == [
        "HEADER",
        "BODY",
        "FOOTER",
        "BUTTONS",
    ]


async def test_authentication_template_gets_the_fixed_body_and_a_code_button(
    emu: httpx.AsyncClient,
) -> None:
    body = body_with(
        {"type": "BODY", "add_security_recommendation": True},
        {"type": "FOOTER", "code_expiration_minutes": 10},
        {
            "type": "BUTTONS",
            "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}],
        },
        name="login_code",
        category="AUTHENTICATION",
    )
    template_id = await create_ok(emu, body)
    [verdict] = await review(emu)
    assert (verdict["status"], verdict["category"]) == ("APPROVED", "AUTHENTICATION")
    components = (await on_platform(emu, template_id))["components"]
    assert components[0]["text"].startswith("*{{1}}* is your verification code.")
    assert "do not share" in components[0]["text"]
    assert components[1]["text"] == "This code expires in 10 minutes."
    assert components[2]["buttons"][0]["type"] == "URL"
    assert (await send_template(emu, "login_code")).status_code == 200


async def test_creation_is_limited_to_100_per_hour_per_waba(emu: httpx.AsyncClient) -> None:
    for n in range(100):
        await create_ok(emu, utility(f"notice_{n}"))
    refused = await create(emu, utility("notice_100"))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == 80007
    other = await create(emu, utility("notice_100"), f"/{VERSION}/{OTHER_WABA}/message_templates")
    assert other.status_code == 200  # per WABA
    await advance(emu, HOUR)
    await create_ok(emu, utility("notice_100"))


async def test_template_routes_check_the_bearer_token(emu: httpx.AsyncClient) -> None:
    r = await emu.post(TEMPLATES, json=utility("t"), headers={"Authorization": "Bearer nope"})
    assert (r.status_code, r.json()["error"]["code"]) == (401, 190)
    r = await emu.post(f"/{VERSION}/999/message_templates", json=utility("t"), headers=AUTH)
    assert (r.status_code, r.json()["error"]["code"]) == (400, 100)
    template_id = await create_ok(emu, utility("t"))
    r = await emu.get(f"/{VERSION}/{template_id}", headers=AUTH)
    assert r.json()["status"] == "PENDING"
    r = await emu.post(f"/{VERSION}/{template_id}", json={}, headers={"Authorization": "Bearer x"})
    assert r.status_code == 401
    r = await emu.delete(TEMPLATES, params={"name": "t"}, headers={"Authorization": "Bearer x"})
    assert r.status_code == 401
