"""/api/v1/contacts, /api/v1/fields and /api/v1/events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from threadline.api.deps import CurrentWorkspace, Now, Session
from threadline.contacts import events as event_service
from threadline.contacts import merge as merging
from threadline.contacts import service
from threadline.contacts.models import FieldDefinition
from threadline.contacts.schemas import (
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    EventIn,
    EventOut,
    FieldDefinitionIn,
    FieldDefinitionOut,
    FieldType,
    MergeIn,
    MergeOut,
    UrnIn,
)
from threadline.flows import automations
from threadline.kit.errors import Conflict
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import settings_of

router = APIRouter(prefix="/api/v1", tags=["contacts"])


def default_region(workspace: Workspace) -> str | None:
    return settings_of(workspace).default_country


async def _one(session: Session, contact_id: str, workspace: Workspace) -> ContactOut:
    contact = await service.get_contact(session, workspace.id, contact_id)
    (out,) = await service.describe(session, [contact])
    return out


@router.post("/contacts", status_code=status.HTTP_201_CREATED)
async def create_contact(
    body: ContactIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> ContactOut:
    contact = await service.create_contact(
        session, workspace.id, body, now=now, default_region=default_region(workspace)
    )
    return await _one(session, contact.id, workspace)


@router.get("/contacts")
async def list_contacts(
    session: Session,
    workspace: CurrentWorkspace,
    query: Annotated[
        str | None, Query(max_length=200, description="name or address contains")
    ] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    urn: Annotated[str | None, Query(max_length=400)] = None,
    after: Annotated[
        str | None, Query(max_length=40, description="cursor from next_cursor")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ContactPage:
    canonical_urn = None
    if urn:
        canonical_urn = str(service.parse_one_urn(urn, default_region(workspace)))
    contacts, cursor = await service.search(
        session, workspace.id, query=query, tag=tag, urn=canonical_urn, after=after, limit=limit
    )
    return ContactPage(items=await service.describe(session, contacts), next_cursor=cursor)


@router.get("/contacts/{contact_id}")
async def get_contact(contact_id: str, session: Session, workspace: CurrentWorkspace) -> ContactOut:
    return await _one(session, contact_id, workspace)


@router.patch("/contacts/{contact_id}")
async def update_contact(
    contact_id: str, body: ContactPatch, session: Session, workspace: CurrentWorkspace, now: Now
) -> ContactOut:
    await service.update_contact(session, workspace.id, contact_id, body, now)
    return await _one(session, contact_id, workspace)


@router.delete("/contacts/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
async def erase_contact(
    contact_id: str,
    session: Session,
    workspace: CurrentWorkspace,
    now: Now,
    reason: Annotated[str, Query(max_length=200)] = "erasure request",
) -> Response:
    """Erase a person (GDPR Art. 17). Hashed suppression records of their addresses remain."""
    await service.erase(session, workspace.id, contact_id, reason, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/contacts/{contact_id}/urns")
async def add_urn(
    contact_id: str, body: UrnIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> ContactOut:
    await service.add_urn(
        session,
        workspace.id,
        contact_id,
        body.urn,
        now=now,
        default_region=default_region(workspace),
    )
    return await _one(session, contact_id, workspace)


@router.delete("/contacts/{contact_id}/urns/{urn}")
async def remove_urn(
    contact_id: str, urn: str, session: Session, workspace: CurrentWorkspace
) -> ContactOut:
    await service.remove_urn(
        session, workspace.id, contact_id, urn, default_region=default_region(workspace)
    )
    return await _one(session, contact_id, workspace)


@router.post("/contacts/merge")
async def merge_contacts(
    body: MergeIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> MergeOut:
    """Fold `merge_id` into `keep_id`: every row of the merged contact (messages, flow
    sessions, tickets, events, consent, addresses, ...) moves to the kept one, which the
    answer shows with what moved per table."""
    result = await merging.merge(session, workspace.id, body.keep_id, body.merge_id, now)
    return MergeOut(
        contact=await _one(session, result.contact.id, workspace),
        moved=result.moved,
        combined=result.combined,
    )


@router.get("/fields")
async def list_fields(session: Session, workspace: CurrentWorkspace) -> list[FieldDefinitionOut]:
    rows = await session.scalars(
        Scope(session, workspace.id).select(FieldDefinition).order_by(FieldDefinition.key)
    )
    return [
        FieldDefinitionOut(key=r.key, label=r.label, value_type=FieldType(r.value_type))
        for r in rows
    ]


@router.post("/fields", status_code=status.HTTP_201_CREATED)
async def create_field(
    body: FieldDefinitionIn, session: Session, workspace: CurrentWorkspace, now: Now
) -> FieldDefinitionOut:
    known = await service.field_types(session, workspace.id)
    if body.key in known:
        raise Conflict(f"field '{body.key}' already exists", where="key")
    session.add(
        FieldDefinition(
            id=new_id("fld"),
            workspace_id=workspace.id,
            key=body.key,
            label=body.label or body.key,
            value_type=body.value_type.value,
            created_at=now,
        )
    )
    return FieldDefinitionOut(
        key=body.key, label=body.label or body.key, value_type=body.value_type
    )


@router.post("/events", status_code=status.HTTP_201_CREATED)
async def ingest_event(
    body: EventIn, response: Response, session: Session, workspace: CurrentWorkspace, now: Now
) -> EventOut:
    """Record what a contact did. Replays with the same idempotency_key return the stored
    event with 200 instead of 201. A new event may start a flow (event triggers)."""
    event, created = await event_service.ingest(
        session, workspace.id, body, now=now, default_region=default_region(workspace)
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    else:
        await automations.on_contact_event(session, workspace, event, now)
    return event_service.event_out(event)


@router.get("/contacts/{contact_id}/events")
async def list_contact_events(
    contact_id: str,
    session: Session,
    workspace: CurrentWorkspace,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EventOut]:
    rows = await event_service.list_events(session, workspace.id, contact_id, kind, limit)
    return [event_service.event_out(e) for e in rows]
