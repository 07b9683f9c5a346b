"""/api/v1/workspace, /api/v1/users and /api/v1/api-keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from threadline.api.deps import CurrentWorkspace, Now, Session
from threadline.kit.scoped import Scope
from threadline.workspaces import service
from threadline.workspaces.models import ApiKey, User
from threadline.workspaces.settings import WorkspaceSettings

router = APIRouter(prefix="/api/v1", tags=["workspace"])


class WorkspaceOut(BaseModel):
    id: str
    name: str
    settings: WorkspaceSettings


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    password: str = Field(max_length=200)
    role: str
    name: str = Field(default="", max_length=200)


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    role: str
    created_at: datetime


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    hint: str
    created_at: datetime
    revoked_at: datetime | None


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="Shown once; only its hash is stored")


@router.get("/workspace")
async def get_workspace(workspace: CurrentWorkspace) -> WorkspaceOut:
    return WorkspaceOut(
        id=workspace.id, name=workspace.name, settings=service.settings_of(workspace)
    )


@router.patch("/workspace/settings")
async def update_settings(
    body: dict[str, Any], session: Session, workspace: CurrentWorkspace
) -> WorkspaceSettings:
    settings = service.update_settings(workspace, body)
    await session.flush()
    return settings


@router.get("/users")
async def list_users(session: Session, workspace: CurrentWorkspace) -> list[UserOut]:
    rows = await session.scalars(Scope(session, workspace.id).select(User).order_by(User.email))
    return [
        UserOut(id=u.id, email=u.email, name=u.name, role=u.role, created_at=u.created_at)
        for u in rows
    ]


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def create_user(
    body: UserIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> UserOut:
    user = await service.create_user(
        session,
        workspace.id,
        email=body.email,
        password=body.password,
        role=body.role,
        name=body.name,
        now=now,
    )
    return UserOut(
        id=user.id, email=user.email, name=user.name, role=user.role, created_at=user.created_at
    )


def _key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        hint=key.hint,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


@router.get("/api-keys")
async def list_api_keys(session: Session, workspace: CurrentWorkspace) -> list[ApiKeyOut]:
    rows = await session.scalars(
        Scope(session, workspace.id).select(ApiKey).order_by(ApiKey.created_at)
    )
    return [_key_out(k) for k in rows]


@router.post("/api-keys", status_code=status.HTTP_201_CREATED)
async def create_api_key(
    body: ApiKeyIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> NewApiKeyOut:
    key = await service.create_api_key(session, workspace.id, body.name, now)
    row = await session.scalar(
        Scope(session, workspace.id).select(ApiKey).order_by(ApiKey.id.desc())
    )
    assert row is not None
    return NewApiKeyOut(**_key_out(row).model_dump(), key=key)


@router.delete("/api-keys/{key_id}")
async def revoke_api_key(
    key_id: str, session: Session, workspace: CurrentWorkspace, now: Now
) -> ApiKeyOut:
    key = await Scope(session, workspace.id).one(ApiKey, key_id, "API key", where="key_id")
    key.revoked_at = key.revoked_at or now
    return _key_out(key)
