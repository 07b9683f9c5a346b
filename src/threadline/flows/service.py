"""Flows stored per workspace: uploading a new version, finding the active ones, compiling."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from threadline.contacts.service import field_types
from threadline.flows import format as f
from threadline.flows.loader import Bundle, Flow, FlowError, compile_bundle
from threadline.flows.models import FlowVersion
from threadline.kit.errors import InvalidInput, NotFound
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope

LEAD_SCORE_FIELD = "lead_score"
_COMPILED: OrderedDict[str, Flow] = OrderedDict()
_CACHE_SIZE = 256


def checksum(bundle: Bundle) -> str:
    return hashlib.sha256(json.dumps(bundle.to_json(), sort_keys=True).encode()).hexdigest()


def compiled(row: FlowVersion) -> Flow:
    """A stored version compiled once per process (versions never change once stored)."""
    flow = _COMPILED.get(row.id)
    if flow is None:
        flow = compile_bundle(Bundle.from_json(row.bundle))
        _COMPILED[row.id] = flow
        if len(_COMPILED) > _CACHE_SIZE:
            _COMPILED.popitem(last=False)
    else:
        _COMPILED.move_to_end(row.id)
    return flow


def problems_of(error: FlowError) -> list[dict[str, object]]:
    return [
        {"file": p.file, "line": p.line, "node": p.node, "message": p.message}
        for p in error.problems
    ]


async def _check_fields(session: AsyncSession, workspace_id: str, flow: Flow) -> None:
    """A flow may only write declared contact fields: a typo must fail at upload, not later."""
    declared = await field_types(session, workspace_id)
    for node in flow.nodes.values():
        if not isinstance(node, f.SetNode):
            continue
        wanted = set(node.fields) | ({LEAD_SCORE_FIELD} if node.score is not None else set())
        missing = sorted(wanted - set(declared))
        if missing:
            raise InvalidInput(
                f"node {node.id} sets undeclared contact field(s) {', '.join(missing)}; "
                "declare them first (POST /api/v1/fields)",
                where=f"nodes.{node.id}",
            )


async def upload(
    session: AsyncSession, workspace_id: str, bundle: Bundle, now: datetime
) -> tuple[FlowVersion, bool]:
    """Store a new version when the sources changed; returns (version, created)."""
    try:
        flow = compile_bundle(bundle)
    except FlowError as exc:
        first = exc.problems[0]
        raise InvalidInput(
            str(first), where=first.node or "source", details={"problems": problems_of(exc)}
        ) from exc
    await _check_fields(session, workspace_id, flow)
    digest = checksum(bundle)
    scope = Scope(session, workspace_id)
    latest = await session.scalar(
        scope.select(FlowVersion)
        .where(FlowVersion.key == flow.key)
        .order_by(FlowVersion.version.desc())
        .limit(1)
    )
    if latest is not None and latest.checksum == digest and latest.active:
        return latest, False
    await session.execute(
        scope.update(FlowVersion).where(FlowVersion.key == flow.key).values(active=False)
    )
    row = FlowVersion(
        id=new_id("flw"),
        workspace_id=workspace_id,
        key=flow.key,
        version=(latest.version + 1) if latest else 1,
        name=flow.file.name,
        bundle=bundle.to_json(),
        checksum=digest,
        triggers=[t.model_dump(mode="json", exclude_none=True) for t in flow.file.triggers],
        priority=flow.file.priority,
        active=True,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    _COMPILED[row.id] = flow
    return row, True


async def active_flows(session: AsyncSession, workspace_id: str) -> list[FlowVersion]:
    scope = Scope(session, workspace_id)
    return list(
        await session.scalars(
            scope.select(FlowVersion).where(FlowVersion.active.is_(True)).order_by(FlowVersion.key)
        )
    )


async def find(session: AsyncSession, workspace_id: str, ref: str) -> FlowVersion:
    """A flow by version id, or by key (its active version)."""
    scope = Scope(session, workspace_id)
    row = await session.scalar(scope.select(FlowVersion).where(FlowVersion.id == ref))
    if row is None:
        row = await session.scalar(
            scope.select(FlowVersion)
            .where(FlowVersion.key == ref)
            .order_by(FlowVersion.active.desc(), FlowVersion.version.desc())
            .limit(1)
        )
    if row is None:
        raise NotFound(f"no flow '{ref}' in this workspace", where="flow_id")
    return row


async def versions(session: AsyncSession, workspace_id: str, key: str) -> list[FlowVersion]:
    scope = Scope(session, workspace_id)
    return list(
        await session.scalars(
            scope.select(FlowVersion).where(FlowVersion.key == key).order_by(FlowVersion.version)
        )
    )
