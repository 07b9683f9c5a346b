"""Keeping the template store in step with the platform (sync and webhooks)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import object_session

from threadline import pricing
from threadline.channels import events as ev
from threadline.channels import messages as content_types
from threadline.kit.errors import InvalidInput
from threadline.kit.ids import new_id
from threadline.kit.scoped import Scope
from threadline.policy.types import TemplateCategory, TemplateFacts
from threadline.templates.definition import TemplateDefinition, TemplateSendError
from threadline.templates.models import Template, TemplateEvent
from threadline.templates.sending import send_parameters


class TemplateStatus(StrEnum):
    """A template's review status, as the platform names it (stored lower case). The platform
    may report others (in appeal, pending deletion, ...): those are stored as they come."""

    APPROVED = "approved"
    PENDING = "pending"
    REJECTED = "rejected"
    PAUSED = "paused"
    DISABLED = "disabled"


async def find(
    session: AsyncSession, workspace_id: str, account_id: str, name: str, language: str
) -> Template | None:
    scope = Scope(session, workspace_id)
    return await session.scalar(
        scope.select(Template).where(
            Template.account_id == account_id,
            Template.name == name,
            Template.language == language,
        )
    )


async def known(
    session: AsyncSession, workspace_id: str, account_id: str, name: str, language: str
) -> Template:
    """The template a send names; an unknown one is the sender's mistake (422)."""
    found = await find(session, workspace_id, account_id, name, language)
    if found is None:
        raise InvalidInput(
            f"unknown template '{name}' ({language}) for this number; sync or create it first",
            where="content.name",
        )
    return found


def facts(template: Template) -> TemplateFacts:
    ttl = (template.definition or {}).get("message_send_ttl_seconds")
    return TemplateFacts(
        name=template.name,
        category=TemplateCategory(template.category),
        status=template.status,
        ttl_seconds=int(ttl) if isinstance(ttl, int) and ttl > 0 else None,
    )


async def upsert(
    session: AsyncSession,
    workspace_id: str,
    account_id: str,
    *,
    name: str,
    language: str,
    category: str,
    status: str,
    provider_id: str | None,
    components: list[dict[str, Any]],
    now: datetime,
) -> Template:
    template = await find(session, workspace_id, account_id, name, language)
    if template is None:
        template = Template(
            id=new_id("tpl"),
            workspace_id=workspace_id,
            account_id=account_id,
            name=name,
            language=language,
            created_at=now,
        )
        session.add(template)
    previous = template.status
    template.category = category.lower()
    template.status = status.lower()
    if previous != template.status:
        record(template, "status", previous, template.status, now, "sync")
    template.provider_id = provider_id
    template.components = components
    template.updated_at = now
    await session.flush()
    return template


async def _by_provider(
    session: AsyncSession,
    workspace_id: str,
    account_id: str,
    provider_id: str,
    name: str,
    language: str,
) -> Template | None:
    scope = Scope(session, workspace_id)
    found = await session.scalar(
        scope.select(Template).where(
            Template.account_id == account_id,
            Template.provider_id == provider_id,
        )
    )
    return found or await find(session, workspace_id, account_id, name, language)


async def apply_event(
    session: AsyncSession,
    workspace_id: str,
    event: ev.TemplateStatusChange | ev.TemplateCategoryChange | ev.TemplateQualityChange,
    now: datetime,
) -> Template | None:
    """Status, category and quality webhooks update the stored template."""
    template = await _by_provider(
        session, workspace_id, event.account, event.template_id, event.name, event.language
    )
    if template is None:
        if not isinstance(event, ev.TemplateStatusChange) or event.category is None:
            return None
        return await upsert(
            session,
            workspace_id,
            event.account,
            name=event.name,
            language=event.language,
            category=event.category,
            status=event.status,
            provider_id=event.template_id,
            components=[],
            now=now,
        )
    previous: str | None
    if isinstance(event, ev.TemplateStatusChange):
        previous, template.status = template.status, event.status.lower()
        template.status_reason = event.reason
        record(template, "status", previous, template.status, now, event.reason, event.detail)
    elif isinstance(event, ev.TemplateCategoryChange):
        previous, template.category = template.category, event.new_category.lower()
        record(template, "category", previous, template.category, now)
    else:
        previous, template.quality = template.quality, event.new_score.lower()
        record(template, "quality", previous, template.quality, now)
    template.updated_at = now
    await session.flush()
    return template


def record(
    template: Template,
    kind: str,
    previous: str | None,
    value: str | None,
    now: datetime,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append to the template's history (the session adds it with the template)."""
    session = object_session(template)
    assert session is not None, "the template must belong to a session"
    session.add(
        TemplateEvent(
            id=new_id("tev"),
            workspace_id=template.workspace_id,
            template_id=template.id,
            kind=kind,
            previous=previous,
            value=value,
            reason=reason,
            detail=detail or {},
            occurred_at=now,
        )
    )


async def history(session: AsyncSession, template: Template) -> list[TemplateEvent]:
    scope = Scope(session, template.workspace_id)
    return list(
        await session.scalars(
            scope.select(TemplateEvent)
            .where(TemplateEvent.template_id == template.id)
            .order_by(TemplateEvent.occurred_at, TemplateEvent.id)
        )
    )


# Which template categories can stand in for a message of each purpose.
FITS = {
    "service": ("utility",),
    "utility": ("utility",),
    "marketing": ("marketing",),
    "authentication": ("authentication",),
}


async def suggestions(
    session: AsyncSession,
    workspace_id: str,
    *,
    purpose: str,
    phone: str | None,
    at: datetime,
) -> list[dict[str, Any]]:
    """Approved templates that may go out instead of a free-form message the closed window
    refuses, each with what it would cost this recipient."""
    categories = FITS.get(purpose, ("utility",))
    scope = Scope(session, workspace_id)
    rows = await session.scalars(
        scope.select(Template)
        .where(
            Template.status == TemplateStatus.APPROVED,
            Template.category.in_(categories),
        )
        .order_by(Template.name, Template.language)
    )
    market = pricing.market_for(phone) if phone else None
    found = []
    for template in rows:
        try:
            charge = pricing.estimate(
                category=template.category,
                market=market,
                window_open=False,
                entry_point_open=False,
                business_market=None,
                at=at,
                card=pricing.current_card(),
            )
            cost: str | None = str(charge.amount)
        except (ValueError, pricing.MissingRate):
            cost = None
        found.append(
            {
                "name": template.name,
                "language": template.language,
                "category": template.category,
                "estimated_cost": cost,
            }
        )
    return found


def contact_values(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """What a template variable can name on a contact: its fields, `name` and `first_name`."""
    first = name.split()[0] if name.strip() else None
    return {"name": name or None, "first_name": first, **fields}


def fill(
    template: Template, language: str, values: dict[str, Any], overrides: dict[str, str]
) -> content_types.Template:
    """Send parameters for a template created here, from the contact's values, overrides
    and the template's defaults. Templates made elsewhere have no declared variables."""
    if template.definition is None:
        raise InvalidInput(
            f"template {template.name} was not created in Threadline, so its variables are "
            "unknown: give the parameters in content instead of `variables`",
            where="variables",
        )
    definition = TemplateDefinition.model_validate(template.definition)
    # A value given by the name of the field a variable reads ("delivery_date") fills it too.
    try:
        return send_parameters(definition, language, {**values, **overrides}, overrides)
    except TemplateSendError as exc:
        raise InvalidInput(str(exc), where="variables") from exc
