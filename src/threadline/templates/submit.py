"""Creating templates here: lint, submit to the platform, store them pending. The platform's
status, category and quality webhooks then move them on (see service.apply_event)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.models import ChannelAccount
from threadline.channels.service import unseal
from threadline.kit.crypto import SecretBox
from threadline.kit.errors import Conflict, InvalidInput
from threadline.templates import service
from threadline.templates.definition import TemplateDefinition
from threadline.templates.graph_payload import to_graph_payload
from threadline.templates.lint import Finding, lint
from threadline.templates.models import Template
from threadline.templates.parsing import TemplateFileError, parse
from threadline.templates.service import TemplateStatus
from threadline.templates.sync import SyncFailed


def finding_out(defn: TemplateDefinition, f: Finding) -> dict[str, Any]:
    return {
        "template": defn.name,
        "line": defn.line_of(f.where),
        "rule": f.rule,
        "severity": f.severity,
        "where": f.where,
        "message": f.message,
    }


def checked(
    source: str, origin: str, require_opt_out_text: bool
) -> list[tuple[TemplateDefinition, list[Finding]]]:
    """Parse and lint; any error refuses the whole upload, naming line, rule and template."""
    try:
        definitions = parse(source, origin)
    except TemplateFileError as exc:
        raise InvalidInput(str(exc), where="source") from exc
    linted = [(d, lint(d, require_opt_out_text=require_opt_out_text)) for d in definitions]
    errors = [finding_out(d, f) for d, findings in linted for f in findings if f.is_error]
    if errors:
        first = errors[0]
        raise InvalidInput(
            f"template {first['template']}: {first['rule']}: {first['message']}",
            where="source",
            details={"findings": errors},
        )
    return linted


async def submit(
    session: AsyncSession,
    channel: ChannelAccount,
    box: SecretBox,
    http: httpx.AsyncClient,
    definition: TemplateDefinition,
    now: datetime,
) -> list[Template]:
    """POST each language to /{WABA}/message_templates and store what the platform says."""
    token = unseal(box, channel).access_token
    url = f"{channel.base_url}/{channel.api_version}/{channel.account_id}/message_templates"
    stored = []
    for language in definition.localized():
        existing = await service.find(
            session, channel.workspace_id, channel.account_id, definition.name, language
        )
        if existing is not None:
            raise Conflict(
                f"template {definition.name} ({language}) already exists with status "
                f"{existing.status}; edit it or choose another name",
                where="source",
            )
        payload = to_graph_payload(definition, language)
        try:
            response = await http.post(
                url, json=payload, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            raise SyncFailed(f"could not reach the platform: {exc}") from exc
        answer = response.json() if response.content else {}
        if response.status_code != 200:
            error = (answer.get("error") or {}) if isinstance(answer, dict) else {}
            raise InvalidInput(
                f"the platform refused {definition.name} ({language}): "
                f"{error.get('message') or response.text[:300]}",
                where="source",
                details={"platform_error": error},
            )
        template = await service.upsert(
            session,
            channel.workspace_id,
            channel.account_id,
            name=definition.name,
            language=language,
            category=str(answer.get("category") or definition.category),
            status=str(answer.get("status") or TemplateStatus.PENDING),
            provider_id=str(answer["id"]) if answer.get("id") else None,
            components=list(payload.get("components", [])),
            now=now,
        )
        template.parameter_format = definition.parameter_format
        template.definition = definition.model_dump(mode="json", exclude_none=True)
        template.submitted_at = now
        service.record(template, "submitted", None, template.category, now)
        stored.append(template)
    return stored


EDITABLE = frozenset({TemplateStatus.APPROVED, TemplateStatus.REJECTED, TemplateStatus.PAUSED})
EDITS_PER_DAY = 1
EDITS_PER_30_DAYS = 10


async def edit(
    session: AsyncSession,
    channel: ChannelAccount,
    box: SecretBox,
    http: httpx.AsyncClient,
    template: Template,
    definition: TemplateDefinition,
    now: datetime,
) -> Template:
    """Send changed components to the platform, within its limits (an approved template: once
    a day, ten times in 30 days), and put the template back in review."""
    if definition.name != template.name or template.language not in definition.localized():
        raise InvalidInput(
            f"the file must define {template.name} in {template.language}", where="source"
        )
    if template.status not in EDITABLE or not template.provider_id:
        raise Conflict(
            f"a {template.status} template cannot be edited (only approved, rejected or paused)",
            where="template_id",
        )
    if template.status == TemplateStatus.APPROVED:
        edits = [
            e.occurred_at for e in await service.history(session, template) if e.kind == "edited"
        ]
        if sum(now - at < timedelta(days=1) for at in edits) >= EDITS_PER_DAY:
            raise Conflict("an approved template can be edited once a day", where="template_id")
        if sum(now - at < timedelta(days=30) for at in edits) >= EDITS_PER_30_DAYS:
            raise Conflict(
                "an approved template can be edited 10 times in 30 days", where="template_id"
            )
    payload = to_graph_payload(definition, template.language)
    body = {"components": payload["components"]}
    token = unseal(box, channel).access_token
    url = f"{channel.base_url}/{channel.api_version}/{template.provider_id}"
    try:
        response = await http.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise SyncFailed(f"could not reach the platform: {exc}") from exc
    if response.status_code != 200:
        error = (response.json().get("error") or {}) if response.content else {}
        raise InvalidInput(
            f"the platform refused the edit: {error.get('message') or response.text[:300]}",
            where="source",
            details={"platform_error": error},
        )
    previous = template.status
    template.components = list(payload["components"])
    template.definition = definition.model_dump(mode="json", exclude_none=True)
    template.status = TemplateStatus.PENDING
    template.updated_at = now
    service.record(template, "edited", previous, TemplateStatus.PENDING, now)
    return template
