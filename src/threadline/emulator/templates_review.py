"""The emulated platform's review of a PENDING template, by rules: abusive wording and
parameters side by side are rejected; a UTILITY template with promotional wording is
recategorised as MARKETING (or rejected, when the WABA is set to), the rest approved."""

from __future__ import annotations

import re
from datetime import datetime

from threadline.emulator.runtime import Runtime
from threadline.emulator.state import TemplateDef
from threadline.emulator.templates_hooks import emit, ids, record, set_status

_ADJACENT = re.compile(r"\}\}\s*\{\{")


def _words(*phrases: str) -> re.Pattern[str]:
    alternatives = "|".join(phrases)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


# Wording that makes a message promotional: a UTILITY template containing it is MARKETING.
PROMOTIONAL = _words(
    r"discounts?",
    r"\d+\s?%\s?off",
    r"% off",
    r"sale",
    r"offers?",
    r"free shipping",
    r"limited[- ]time",
    r"coupons?",
    r"promo(?: code)?",
    r"buy now",
    r"shop now",
    r"black friday",
    r"clearance",
    r"ofertas?",
    r"descuentos?",
    r"env[ií]o gratis",
    r"cup[oó]n(?:es)?",
    r"rebajas?",
    r"promo[cç](?:ão|ao|ões|oes)",
    r"promoci[oó]n(?:es)?",
    r"descontos?",
    r"cupom",
    r"frete gr[aá]tis",
    r"liquida[cç][aã]o",
    r"compre j[aá]",
    r"compra ya",
)
# Wording the platform refuses outright.
ABUSIVE = _words(
    r"idiots?",
    r"stupid",
    r"morons?",
    r"dumb",
    r"loser",
    r"shut up",
    r"bastards?",
    r"hate you",
    r"kill you",
    r"idiotas?",
    r"est[uú]pid[oa]s?",
    r"imb[eé]cil(?:es)?",
    r"burr[oa]s?",
    r"ot[aá]ri[oa]s?",
)


def _texts(template: TemplateDef) -> str:
    parts = [template.header or "", template.body]
    for component in template.components:
        if component.get("type") == "FOOTER":
            parts.append(str(component.get("text", "")))
    parts.extend(str(b.get("text", "")) for b in template.buttons)
    return "\n".join(parts)


def review(rt: Runtime, template: TemplateDef, at: datetime) -> None:
    """The platform's verdict on a PENDING template, by rules."""
    template.review_due = None
    text = _texts(template)
    abusive = ABUSIVE.search(text)
    promotional = PROMOTIONAL.search(text)
    if abusive:
        _reject(
            rt,
            template,
            at,
            "ABUSIVE_CONTENT",
            f"Your template contains abusive wording ({abusive.group(0)!r}).",
            "Remove offensive or threatening language.",
        )
    elif _ADJACENT.search(template.body):
        _reject(
            rt,
            template,
            at,
            "INVALID_FORMAT",
            "Your template has parameters placed next to each other without text between them.",
            "Separate parameters with descriptive text.",
        )
    elif template.category == "UTILITY" and promotional:
        if rt.state.wabas[template.waba_id].reject_miscategorised:
            _reject(
                rt,
                template,
                at,
                "INCORRECT_CATEGORY",
                f"Your UTILITY template has promotional content ({promotional.group(0)!r}).",
                "Submit it as a MARKETING template.",
            )
        else:
            previous, template.category = template.category, "MARKETING"
            record(template, at, "CATEGORY", previous=previous, new=template.category)
            value = {**ids(template), "previous_category": previous, "new_category": "MARKETING"}
            emit(rt, template.waba_id, "template_category_update", value, at)
            _approve(rt, template, at)
    else:
        _approve(rt, template, at)


def _approve(rt: Runtime, template: TemplateDef, at: datetime) -> None:
    template.rejection_reason = None
    set_status(rt, template, "APPROVED", at)


def _reject(
    rt: Runtime, template: TemplateDef, at: datetime, reason: str, why: str, advice: str
) -> None:
    template.rejection_reason = reason
    info = {"reason": why, "recommendation": advice}
    set_status(rt, template, "REJECTED", at, reason, rejection_info=info)
