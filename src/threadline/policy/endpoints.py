"""/api/v1/policy: ask why a message would or would not go out."""

from __future__ import annotations

from fastapi import APIRouter

from threadline.api.deps import CurrentWorkspace, Now, Session
from threadline.policy import service
from threadline.policy.reasons import REASON_DESCRIPTIONS
from threadline.policy.schemas import DecisionOut, ExplainRequest

router = APIRouter(prefix="/api/v1/policy", tags=["policy"])


@router.post("/explain")
async def explain(
    body: ExplainRequest, session: Session, workspace: CurrentWorkspace, now: Now
) -> DecisionOut:
    """The Decision for a hypothetical send, with the facts it was based on. Nothing is sent."""
    decision, ctx = await service.explain(session, workspace, body, now)
    return service.decision_out(decision, ctx)


@router.get("/reasons")
async def reasons(workspace: CurrentWorkspace) -> dict[str, str]:
    """Every stable reason code and what it means."""
    return {code.value: text for code, text in REASON_DESCRIPTIONS.items()}
