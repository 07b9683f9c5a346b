"""Creating workspaces, API keys and users; resolving an API key to its workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.consent.models import ConsentTopic
from threadline.kit.crypto import hash_api_key, hash_password, new_api_key
from threadline.kit.errors import Conflict, InvalidInput, NotFound, Unauthorized
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.workspaces.models import ApiKey, User, Workspace
from threadline.workspaces.settings import WorkspaceSettings

ROLES = ("owner", "admin", "agent", "analyst")
DEFAULT_TOPIC = "marketing"


@dataclass(frozen=True)
class NewWorkspace:
    workspace: Workspace
    api_key: str


async def create_workspace(session: AsyncSession, name: str, now: datetime) -> NewWorkspace:
    name = name.strip()
    if not name:
        raise InvalidInput("workspace name must not be empty", where="name")
    existing = await session.scalar(select(Workspace).where(Workspace.name == name))
    if existing is not None:
        raise Conflict(f"a workspace named '{name}' already exists", where="name")
    workspace_id = new_id("ws")
    settings = WorkspaceSettings(business_name=name)
    workspace = Workspace(
        id=workspace_id,
        workspace_id=workspace_id,
        name=name,
        settings=settings.model_dump(mode="json"),
        created_at=now,
    )
    session.add(workspace)
    # No ORM relationships, so the parent row must reach the database before its children.
    await session.flush()
    session.add(
        ConsentTopic(
            id=new_id("top"),
            workspace_id=workspace_id,
            key=DEFAULT_TOPIC,
            name="Marketing messages",
            description="Offers, news and reminders about products",
            created_at=now,
        )
    )
    await session.flush()
    key = await create_api_key(session, workspace_id, "initial key", now)
    return NewWorkspace(workspace=workspace, api_key=key)


async def create_api_key(session: AsyncSession, workspace_id: str, name: str, now: datetime) -> str:
    key = new_api_key()
    session.add(
        ApiKey(
            id=new_id("key"),
            workspace_id=workspace_id,
            name=name,
            key_hash=hash_api_key(key),
            hint=key[:7],
            created_at=now,
        )
    )
    await session.flush()
    return key


async def workspace_for_key(session: AsyncSession, key: str) -> Workspace:
    api_key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(key)))
    if api_key is None or api_key.revoked_at is not None:
        raise Unauthorized("invalid or revoked API key")
    workspace = await session.get(Workspace, api_key.workspace_id)
    if workspace is None:
        raise Unauthorized("invalid or revoked API key")
    return workspace


async def find_workspace(session: AsyncSession, name_or_id: str) -> Workspace:
    workspace = await session.scalar(
        select(Workspace).where((Workspace.name == name_or_id) | (Workspace.id == name_or_id))
    )
    if workspace is None:
        raise NotFound(f"no workspace named '{name_or_id}'", where="workspace")
    return workspace


async def create_user(
    session: AsyncSession,
    workspace_id: str,
    *,
    email: str,
    password: str,
    role: str,
    name: str = "",
    now: datetime,
) -> User:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", where="role")
    if len(password) < 10:
        raise InvalidInput("password must be at least 10 characters", where="password")
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInput(f"'{email}' is not an email address", where="email")
    clash = await session.scalar(
        Scope(session, workspace_id).select(User).where(User.email == email)
    )
    if clash is not None:
        raise Conflict(f"a user with email {email} already exists", where="email")
    user = User(
        id=new_id("usr"),
        workspace_id=workspace_id,
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
        created_at=now,
    )
    session.add(user)
    await session.flush()
    return user


def settings_of(workspace: Workspace) -> WorkspaceSettings:
    return WorkspaceSettings.model_validate(workspace.settings or {})


def update_settings(workspace: Workspace, changes: dict[str, Any]) -> WorkspaceSettings:
    merged = {**settings_of(workspace).model_dump(mode="json"), **changes}
    try:
        settings = WorkspaceSettings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        # The same shape as request validation errors: "frequency_caps[0].hours".
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
        ).lstrip(".")
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = f"unknown field '{first['loc'][-1]}'"
        raise InvalidInput(message, where=where or "settings") from exc
    workspace.settings = settings.model_dump(mode="json")
    return settings
