"""Workspaces, their API keys and users: what creating them refuses, and how a key finds
its workspace until it is revoked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import T0
from threadline.kit.crypto import hash_api_key, verify_password
from threadline.kit.errors import Conflict, InvalidInput, NotFound, Unauthorized
from threadline.workspaces.models import ApiKey
from threadline.workspaces.service import (
    create_api_key,
    create_user,
    create_workspace,
    find_workspace,
    settings_of,
    workspace_for_key,
)


async def test_an_api_key_is_found_by_its_hash_and_refused_once_revoked(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        acme = await create_workspace(session, "Acme", T0)
        other = await create_workspace(session, "Other", T0)
        second_key = await create_api_key(session, acme.workspace.id, "ci", T0)

    async with sessions() as session:
        assert (await workspace_for_key(session, acme.api_key)).id == acme.workspace.id
        assert (await workspace_for_key(session, second_key)).id == acme.workspace.id
        assert (await workspace_for_key(session, other.api_key)).id == other.workspace.id
        with pytest.raises(Unauthorized):
            await workspace_for_key(session, acme.api_key + "x")
        with pytest.raises(Unauthorized):
            await workspace_for_key(session, hash_api_key(acme.api_key))

    async with sessions() as session, session.begin():
        await session.execute(
            update(ApiKey)
            .where(ApiKey.key_hash == hash_api_key(second_key))
            .values(revoked_at=T0 + timedelta(hours=1))
        )
    async with sessions() as session:
        with pytest.raises(Unauthorized):
            await workspace_for_key(session, second_key)
        assert (await workspace_for_key(session, acme.api_key)).id == acme.workspace.id


async def test_a_new_workspace_has_default_settings_named_after_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        created = await create_workspace(session, "  Loja da Ana  ", T0)
    assert created.workspace.name == "Loja da Ana"
    settings = settings_of(created.workspace)
    assert settings.business_name == "Loja da Ana"
    assert settings.default_timezone == "UTC"
    assert [(c.max_messages, c.hours) for c in settings.frequency_caps] == [(3, 24), (10, 168)]
    assert settings.help_message("ignored").startswith("Loja da Ana: reply STOP")


async def test_a_workspace_needs_a_name_that_is_not_taken(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await create_workspace(session, "Acme", T0)
    async with sessions() as session:
        with pytest.raises(InvalidInput) as empty:
            await create_workspace(session, "   ", T0)
        assert empty.value.where == "name"
        with pytest.raises(Conflict) as taken:
            await create_workspace(session, "Acme", T0)
        assert "'Acme' already exists" in taken.value.message and taken.value.where == "name"


async def test_a_workspace_is_found_by_name_or_id(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        acme = await create_workspace(session, "Acme", T0)
    async with sessions() as session:
        assert (await find_workspace(session, "Acme")).id == acme.workspace.id
        assert (await find_workspace(session, acme.workspace.id)).name == "Acme"
        with pytest.raises(NotFound) as missing:
            await find_workspace(session, "Nobody")
        assert "no workspace named 'Nobody'" in missing.value.message


async def test_a_user_gets_a_known_role_a_long_password_and_a_unique_email(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        acme = await create_workspace(session, "Acme", T0)
        user = await create_user(
            session,
            acme.workspace.id,
            email="  Ana@Example.COM ",
            password="correct horse battery",
            role="agent",
            now=T0,
        )
    assert user.email == "ana@example.com"
    assert "correct horse" not in user.password_hash
    assert verify_password(user.password_hash, "correct horse battery")

    bad: list[tuple[dict[str, str], str, str]] = [
        ({"role": "emperor"}, "role", "role must be one of owner, admin, agent, analyst"),
        ({"password": "short"}, "password", "at least 10 characters"),
        ({"email": "not-an-email"}, "email", "'not-an-email' is not an email address"),
    ]
    good = {"email": "bruno@example.com", "password": "long enough pass", "role": "admin"}
    async with sessions() as session:
        for change, where, message in bad:
            with pytest.raises(InvalidInput) as refused:
                await create_user(session, acme.workspace.id, **{**good, **change}, now=T0)
            assert refused.value.where == where and message in refused.value.message
        with pytest.raises(Conflict) as clash:
            await create_user(
                session, acme.workspace.id, **{**good, "email": "ANA@example.com"}, now=T0
            )
        assert clash.value.where == "email"
