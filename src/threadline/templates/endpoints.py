"""/api/v1/templates: create (lint, submit), list, and each template's history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from threadline.api.deps import CurrentWorkspace, Now, Session, app_state
from threadline.channels import service as channels
from threadline.kit.errors import NotFound
from threadline.kit.scoped import Scope
from threadline.templates import service, submit
from threadline.templates.models import Template
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of

router = APIRouter(prefix="/api/v1", tags=["templates"])


class TemplateUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=200_000, description="template file (YAML)")
    origin: str = Field(default="templates.yaml", max_length=200)
    require_opt_out: bool = Field(
        default=False, description="marketing templates must tell people how to opt out"
    )


class EventOut(BaseModel):
    kind: str
    previous: str | None
    value: str | None
    reason: str | None
    detail: dict[str, Any]
    at: datetime


class TemplateOut(BaseModel):
    id: str
    name: str
    language: str
    category: str
    status: str
    status_reason: str | None
    quality: str | None
    provider_id: str | None
    parameter_format: str | None
    components: list[dict[str, Any]]
    submitted_at: datetime | None
    updated_at: datetime
    warnings: list[dict[str, Any]] = Field(default_factory=list)
    history: list[EventOut] | None = None


def template_out(
    t: Template, warnings: list[dict[str, Any]] | None = None, history: list[Any] | None = None
) -> TemplateOut:
    return TemplateOut(
        id=t.id,
        name=t.name,
        language=t.language,
        category=t.category,
        status=t.status,
        status_reason=t.status_reason,
        quality=t.quality,
        provider_id=t.provider_id,
        parameter_format=t.parameter_format,
        components=list(t.components or []),
        submitted_at=t.submitted_at,
        updated_at=t.updated_at,
        warnings=warnings or [],
        history=[
            EventOut(
                kind=e.kind,
                previous=e.previous,
                value=e.value,
                reason=e.reason,
                detail=e.detail or {},
                at=e.occurred_at,
            )
            for e in history
        ]
        if history is not None
        else None,
    )


@router.post("/channels/{channel_id}/templates", status_code=status.HTTP_201_CREATED)
async def create_templates(
    channel_id: str,
    body: TemplateUpload,
    request: Request,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
) -> list[TemplateOut]:
    """Lint, then submit each template (each language) to the number's WhatsApp Business
    Account. Lint errors answer 422 with `findings` (line, rule, message) and nothing is
    submitted; warnings come back on each template. Review results arrive by webhook."""
    channel = await channels.get(session, workspace.id, channel_id)
    linted = submit.checked(body.source, body.origin, _needs_opt_out(workspace, body))
    created = []
    async with httpx.AsyncClient(timeout=20) as http:
        for definition, findings in linted:
            warnings = [submit.finding_out(definition, f) for f in findings]
            for template in await submit.submit(
                session, channel, app_state(request).box, http, definition, now
            ):
                created.append(template_out(template, warnings))
    return created


@router.get("/templates")
async def list_templates(
    session: Session,
    workspace: CurrentWorkspace,
    template_status: Annotated[str | None, Query(alias="status", max_length=32)] = None,
    category: Annotated[str | None, Query(max_length=16)] = None,
) -> list[TemplateOut]:
    stmt = Scope(session, workspace.id).select(Template)
    if template_status:
        stmt = stmt.where(Template.status == template_status.lower())
    if category:
        stmt = stmt.where(Template.category == category.lower())
    rows = await session.scalars(stmt.order_by(Template.name, Template.language))
    return [template_out(t) for t in rows]


@router.get("/templates/{template_id}")
async def get_template(
    template_id: str, session: Session, workspace: CurrentWorkspace
) -> TemplateOut:
    """A template with its whole history: submitted, each status (with the reason), each
    category Meta gave it, each quality rating."""
    template = await _template(session, workspace.id, template_id)
    return template_out(template, history=await service.history(session, template))


class TemplateEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=200_000, description="the template, changed")
    origin: str = Field(default="template.yaml", max_length=200)
    require_opt_out: bool = False


@router.patch("/templates/{template_id}")
async def edit_template(
    template_id: str,
    body: TemplateEdit,
    request: Request,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
) -> TemplateOut:
    """Change a template's components: linted, sent to the platform within its edit limits
    (approved templates: once a day, 10 times in 30 days), then back in review (pending)."""
    template = await _template(session, workspace.id, template_id)
    ((definition, findings),) = submit.checked(
        body.source, body.origin, _needs_opt_out(workspace, body)
    )
    channel = await channels.by_account(session, workspace.id, template.account_id)
    async with httpx.AsyncClient(timeout=20) as http:
        await submit.edit(session, channel, app_state(request).box, http, template, definition, now)
    warnings = [submit.finding_out(definition, f) for f in findings]
    return template_out(template, warnings, await service.history(session, template))


def _needs_opt_out(workspace: Workspace, body: TemplateUpload | TemplateEdit) -> bool:
    return body.require_opt_out or settings_of(workspace).marketing_templates_need_opt_out


async def _template(session: Session, workspace_id: str, template_id: str) -> Template:
    scope = Scope(session, workspace_id)
    template = await session.scalar(scope.select(Template).where(Template.id == template_id))
    if template is None:
        raise NotFound("no such template in this workspace", where="template_id")
    return template
