"""Workspace secrets: stored sealed, never shown again, put into a flow's webhook call only
at the moment it is made (never into the flow's stored state)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.kit.crypto import SecretBox
from threadline.kit.errors import InvalidInput, NotFound
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.secrets.models import WorkspaceSecret

NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
PLACEHOLDER = re.compile(r"\{\{\s*secrets\.([a-z][a-z0-9_]{0,59})\s*\}\}")


async def put(
    session: AsyncSession, box: SecretBox, workspace_id: str, name: str, value: str, now: datetime
) -> WorkspaceSecret:
    if not NAME.match(name):
        raise InvalidInput(
            "a secret's name is lowercase letters, digits and _, starting with a letter",
            where="name",
        )
    scope = Scope(session, workspace_id)
    row = await session.scalar(scope.select(WorkspaceSecret).where(WorkspaceSecret.name == name))
    if row is None:
        row = WorkspaceSecret(
            id=new_id("sec"), workspace_id=workspace_id, name=name, created_at=now
        )
        session.add(row)
    row.sealed = box.encrypt(value)
    row.updated_at = now
    await session.flush()
    return row


async def names(session: AsyncSession, workspace_id: str) -> list[WorkspaceSecret]:
    scope = Scope(session, workspace_id)
    return list(await session.scalars(scope.select(WorkspaceSecret).order_by(WorkspaceSecret.name)))


async def remove(session: AsyncSession, workspace_id: str, name: str) -> None:
    scope = Scope(session, workspace_id)
    result = await session.execute(
        scope.delete(WorkspaceSecret).where(WorkspaceSecret.name == name)
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound(f"no secret named {name} in this workspace", where="name")


async def reveal(
    session: AsyncSession, box: SecretBox, workspace_id: str, value: Any
) -> tuple[Any, list[str]]:
    """`value` with every {{secrets.NAME}} replaced; also the names that were missing."""
    wanted: set[str] = set()
    _collect(value, wanted)
    if not wanted:
        return value, []
    scope = Scope(session, workspace_id)
    rows = await session.scalars(
        scope.select(WorkspaceSecret).where(WorkspaceSecret.name.in_(wanted))
    )
    known = {row.name: box.decrypt(row.sealed) for row in rows}
    missing = sorted(wanted - set(known))
    return _replace(value, known), missing


def _collect(value: Any, into: set[str]) -> None:
    if isinstance(value, str):
        into.update(PLACEHOLDER.findall(value))
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, into)
    elif isinstance(value, list):
        for item in value:
            _collect(item, into)


def _replace(value: Any, known: dict[str, str]) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: known.get(m.group(1), ""), value)
    if isinstance(value, dict):
        return {k: _replace(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, known) for v in value]
    return value
