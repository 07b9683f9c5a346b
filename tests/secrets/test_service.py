"""Workspace secrets at rest: sealed with the settings' key, replaced in place, revealed only
into the value a flow is about to send, and only the workspace's own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0
from threadline.config import Settings
from threadline.kit.crypto import SecretBox
from threadline.kit.errors import InvalidInput, NotFound
from threadline.secrets import service
from threadline.secrets.models import WorkspaceSecret
from threadline.workspaces.service import create_workspace

TOKEN = "s3cr3t-shop-token"


async def _workspaces(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, str]:
    async with sessions() as session, session.begin():
        acme = await create_workspace(session, "Acme", T0)
        other = await create_workspace(session, "Other", T0)
    return acme.workspace.id, other.workspace.id


async def test_a_secret_is_sealed_at_rest_and_replaced_in_place(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    box = settings.secret_box()
    acme, _ = await _workspaces(sessions)
    async with sessions() as session, session.begin():
        await service.put(session, box, acme, "shop_token", TOKEN, T0)
    async with sessions() as session:
        (row,) = await session.scalars(select(WorkspaceSecret))
    assert TOKEN not in row.sealed and "s3cr3t" not in row.sealed
    assert box.decrypt(row.sealed) == TOKEN
    with pytest.raises(ValueError, match="THREADLINE_SECRET_KEY"):
        SecretBox("another key").decrypt(row.sealed)

    later = T0 + timedelta(hours=2)
    async with sessions() as session, session.begin():
        await service.put(session, box, acme, "shop_token", "rotated-token", later)
    async with sessions() as session:
        (rotated,) = await session.scalars(select(WorkspaceSecret))
    assert rotated.id == row.id and rotated.created_at == T0 and rotated.updated_at == later
    assert box.decrypt(rotated.sealed) == "rotated-token" and rotated.sealed != row.sealed


@pytest.mark.parametrize("name", ["", "Shop", "1token", "shop-token", "shop token", "a" * 61])
async def test_a_secret_name_is_lowercase_letters_digits_and_underscores(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, name: str
) -> None:
    acme, _ = await _workspaces(sessions)
    async with sessions() as session:
        with pytest.raises(InvalidInput) as refused:
            await service.put(session, settings.secret_box(), acme, name, TOKEN, T0)
    assert refused.value.where == "name" and "lowercase letters" in refused.value.message


async def test_reveal_fills_placeholders_anywhere_and_names_what_is_missing(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    box = settings.secret_box()
    acme, other = await _workspaces(sessions)
    async with sessions() as session, session.begin():
        await service.put(session, box, acme, "shop_token", TOKEN, T0)
        await service.put(session, box, other, "crm_key", "other-workspace-key", T0)
    request = {
        "url": "https://shop.test/orders?key={{ secrets.shop_token }}",
        "headers": {
            "Authorization": "Bearer {{secrets.shop_token}}",
            "X-Crm": "{{secrets.crm_key}}",
        },
        "body": [{"n": 1}, "{{secrets.shop_token}}", None],
        "plain": "no placeholders {{answers.order}}",
    }
    async with sessions() as session:
        revealed, missing = await service.reveal(session, box, acme, request)
        untouched, none = await service.reveal(session, box, acme, {"text": "hello"})
    assert revealed == {
        "url": f"https://shop.test/orders?key={TOKEN}",
        # Another workspace's secret of that name is never used.
        "headers": {"Authorization": f"Bearer {TOKEN}", "X-Crm": ""},
        "body": [{"n": 1}, TOKEN, None],
        "plain": "no placeholders {{answers.order}}",
    }
    assert missing == ["crm_key"]
    assert (untouched, none) == ({"text": "hello"}, [])
    assert "{{secrets.shop_token}}" in str(request)  # the caller's value is not changed


async def test_names_are_listed_sorted_and_removing_an_unknown_one_is_not_found(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    box = settings.secret_box()
    acme, other = await _workspaces(sessions)
    async with sessions() as session, session.begin():
        for name in ("zeta", "alpha", "mid_1"):
            await service.put(session, box, acme, name, TOKEN, T0)
    async with sessions() as session, session.begin():
        assert [r.name for r in await service.names(session, acme)] == ["alpha", "mid_1", "zeta"]
        assert await service.names(session, other) == []
        with pytest.raises(NotFound):
            await service.remove(session, other, "alpha")
        await service.remove(session, acme, "alpha")
    async with sessions() as session:
        assert [r.name for r in await service.names(session, acme)] == ["mid_1", "zeta"]
        with pytest.raises(NotFound) as missing:
            await service.remove(session, acme, "alpha")
    assert "no secret named alpha" in missing.value.message
