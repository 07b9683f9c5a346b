"""/api/v1/flows, /api/v1/flow-sessions: upload versions, start, inspect, analytics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from threadline.api.deps import CurrentWorkspace, Now, Session
from threadline.contacts.service import get_contact
from threadline.flows import analytics, runner
from threadline.flows import service as flows
from threadline.flows.loader import Bundle
from threadline.flows.models import FlowSession, FlowVersion
from threadline.flows.state import FlowStatus
from threadline.kit.errors import Conflict, NotFound
from threadline.kit.scoped import Scope
from threadline.messages.endpoints import MessageOut, message_out

router = APIRouter(prefix="/api/v1", tags=["flows"])


class FlowUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=500_000, description="the flow file (YAML)")
    origin: str = Field(default="flow.yaml", max_length=200, description="file name for errors")
    subflows: dict[str, str] = Field(default_factory=dict, description="key -> YAML")
    catalog: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000)


class FlowOut(BaseModel):
    id: str
    key: str
    version: int
    name: str
    active: bool
    priority: int
    triggers: list[dict[str, Any]]
    created_at: datetime
    warnings: list[str] = Field(default_factory=list)
    source: str | None = None


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: str
    params: dict[str, Any] = Field(default_factory=dict)
    channel_id: str | None = None


class SessionOut(BaseModel):
    id: str
    flow_id: str
    flow_key: str
    contact_id: str
    status: str
    node: str | None
    trigger: str
    outcome: str | None
    end_reason: str | None
    answers: dict[str, Any]
    path: list[str]
    deadline: datetime | None
    started_at: datetime
    ended_at: datetime | None
    messages: list[MessageOut] | None = None


def flow_out(row: FlowVersion, with_source: bool = False) -> FlowOut:
    compiled = flows.compiled(row)
    return FlowOut(
        id=row.id,
        key=row.key,
        version=row.version,
        name=row.name,
        active=row.active,
        priority=row.priority,
        triggers=row.triggers,
        created_at=row.created_at,
        warnings=[str(w) for w in compiled.warnings],
        source=row.bundle["main"] if with_source else None,
    )


def session_out(row: FlowSession, sent: list[Any] | None = None) -> SessionOut:
    return SessionOut(
        id=row.id,
        flow_id=row.flow_id,
        flow_key=row.flow_key,
        contact_id=row.contact_id,
        status=row.status,
        node=row.node,
        trigger=row.trigger,
        outcome=row.outcome,
        end_reason=row.end_reason,
        answers=dict(row.state.get("answers", {})),
        path=list(row.state.get("path", [])),
        deadline=row.deadline,
        started_at=row.started_at,
        ended_at=row.ended_at,
        messages=[message_out(m) for m in sent] if sent is not None else None,
    )


@router.post("/flows", status_code=status.HTTP_201_CREATED)
async def upload_flow(
    body: FlowUpload, response: Response, session: Session, workspace: CurrentWorkspace, now: Now
) -> FlowOut:
    """Store a new version of a flow (201), or the same sources again (200). Problems answer
    422 with `problems`, each naming the file, line and node."""
    bundle = Bundle(
        main=body.source, origin=body.origin, subflows=body.subflows, catalog=body.catalog
    )
    row, created = await flows.upload(session, workspace.id, bundle, now)
    if not created:
        response.status_code = status.HTTP_200_OK
    return flow_out(row)


@router.get("/flows")
async def list_flows(session: Session, workspace: CurrentWorkspace) -> list[FlowOut]:
    return [flow_out(row) for row in await flows.active_flows(session, workspace.id)]


@router.get("/flows/{flow_id}")
async def get_flow(flow_id: str, session: Session, workspace: CurrentWorkspace) -> FlowOut:
    """A flow by version id or key (then its active version), with its source."""
    return flow_out(await flows.find(session, workspace.id, flow_id), with_source=True)


@router.post("/flows/{flow_id}/start", status_code=status.HTTP_201_CREATED)
async def start_flow(
    flow_id: str, body: StartIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> SessionOut:
    """Start a flow for a contact (trigger `api`). 409 `session_active` when the contact is
    already in one: one conversation with the bot at a time."""
    version = await flows.find(session, workspace.id, flow_id)
    contact = await get_contact(session, workspace.id, body.contact_id)
    row, sent = await runner.start(
        session,
        workspace,
        contact,
        version,
        now,
        trigger="api",
        params=body.params,
        channel_id=body.channel_id,
    )
    return session_out(row, sent)


@router.get("/flows/{flow_id}/analytics", response_model=None)
async def flow_analytics(
    flow_id: str,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
    version: Annotated[int | None, Query(ge=1)] = None,
    conversion: Annotated[str, Query(max_length=64)] = "purchase",
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> dict[str, Any] | PlainTextResponse:
    """Per flow version: visits and drop-off per node, outcomes, paths, median time to
    complete, conversion by path (contact events of kind `conversion` after the start)."""
    row = await flows.find(session, workspace.id, flow_id)
    versions = await flows.versions(session, workspace.id, row.key)
    chosen = next((v for v in versions if v.version == version), None) if version else row
    if chosen is None:
        raise NotFound(f"flow {row.key} has no version {version}", where="version")
    report = await analytics.report(session, workspace.id, chosen, conversion, now)
    if output == "csv":
        return PlainTextResponse(analytics.to_csv(report), media_type="text/csv")
    return report


@router.get("/flow-sessions/{session_id}")
async def get_session(session_id: str, session: Session, workspace: CurrentWorkspace) -> SessionOut:
    return session_out(await _session(session, workspace.id, session_id))


@router.post("/flow-sessions/{session_id}/end")
async def end_session(
    session_id: str, session: Session, workspace: CurrentWorkspace, now: Now
) -> SessionOut:
    """Stop a session now (outcome abandoned, reason ended_by_api); nothing more is sent."""
    row = await _session(session, workspace.id, session_id)
    if row.status == FlowStatus.ENDED:
        raise Conflict("the session has already ended", where="session_id")
    state = dict(row.state)
    state.update(status=FlowStatus.ENDED, wait=None, outcome="abandoned", end_reason="ended_by_api")
    state["ended_at"] = now.isoformat()
    row.state, row.status, row.deadline = state, FlowStatus.ENDED, None
    row.outcome, row.end_reason, row.ended_at = "abandoned", "ended_by_api", now
    row.active_contact_id, row.updated_at = None, now
    return session_out(row)


@router.get("/contacts/{contact_id}/flow-sessions")
async def contact_sessions(
    contact_id: str,
    session: Session,
    workspace: CurrentWorkspace,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[SessionOut]:
    await get_contact(session, workspace.id, contact_id)
    scope = Scope(session, workspace.id)
    rows = await session.scalars(
        scope.select(FlowSession)
        .where(FlowSession.contact_id == contact_id)
        .order_by(FlowSession.started_at.desc(), FlowSession.id.desc())
        .limit(limit)
    )
    return [session_out(r) for r in rows]


async def _session(session: Session, workspace_id: str, session_id: str) -> FlowSession:
    scope = Scope(session, workspace_id)
    row = await session.scalar(scope.select(FlowSession).where(FlowSession.id == session_id))
    if row is None:
        raise NotFound("no such flow session in this workspace", where="session_id")
    return row
