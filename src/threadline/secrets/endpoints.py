"""/api/v1/secrets: credentials for the workspace's flows (write-only)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from threadline.api.deps import CurrentWorkspace, Now, Session, app_state
from threadline.secrets import service

router = APIRouter(prefix="/api/v1/secrets", tags=["secrets"])


class SecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(min_length=1, max_length=4000)


class SecretOut(BaseModel):
    name: str
    updated_at: datetime


@router.put("/{name}")
async def put_secret(
    name: str,
    body: SecretIn,
    request: Request,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
) -> SecretOut:
    """Store (or replace) a secret. Its value is sealed and never shown again; flows use it as
    `{{secrets.NAME}}` in webhook URLs, headers and bodies."""
    row = await service.put(session, app_state(request).box, workspace.id, name, body.value, now)
    return SecretOut(name=row.name, updated_at=row.updated_at)


@router.get("")
async def list_secrets(session: Session, workspace: CurrentWorkspace) -> list[SecretOut]:
    return [
        SecretOut(name=r.name, updated_at=r.updated_at)
        for r in await service.names(session, workspace.id)
    ]


@router.delete("/{name}", status_code=204)
async def delete_secret(name: str, session: Session, workspace: CurrentWorkspace) -> None:
    await service.remove(session, workspace.id, name)
