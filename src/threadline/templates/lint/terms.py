"""The wording the linter looks for: promotional terms, opt-out phrases, and the platform's
own authentication bodies. Compared case- and accent-free."""

from __future__ import annotations

import re
import unicodedata

# Promotional wording, compared without accents and case. A warning, not a verdict.
PROMOTIONAL_TERMS: tuple[str, ...] = (
    # English
    r"discounts?", r"discounted", r"\d+\s*% off", r"% off", r"sale", r"on sale", r"offers?",
    r"free shipping", r"free delivery", r"limited time", r"buy now", r"shop now", r"coupons?",
    r"promo", r"promo codes?", r"promotions?", r"black friday", r"cyber monday", r"clearance",
    r"special price", r"vouchers?", r"save \d+",
    # Spanish
    r"ofertas?", r"descuentos?", r"rebajas?", r"promocion(?:es)?", r"envio gratis",
    r"cupon(?:es)?", r"compra ya", r"tiempo limitado", r"liquidacion",
    # Portuguese
    r"promocao", r"promocoes", r"descontos?", r"frete gratis", r"cupom", r"cupons",
    r"compre ja", r"liquidacao", r"por tempo limitado",
    # French
    r"soldes", r"remise", r"reductions?", r"offres? speciales?", r"livraison gratuite",
    r"code promo",
    # German
    r"rabatt", r"angebote?", r"gutschein", r"versandkostenfrei", r"sonderangebot",
    r"ausverkauf",
    # Italian
    r"sconto", r"sconti", r"offerta", r"offerte", r"saldi", r"spedizione gratuita",
)  # fmt: skip

DEFAULT_OPT_OUT_PHRASES: tuple[str, ...] = (
    "reply stop",
    "text stop",
    "send stop",
    "stop promotions",
    "stop promo",
    "unsubscribe",
    "opt out",
    "opt-out",
    "responde baja",
    "envia baja",
    "darte de baja",
    "darse de baja",
    "responde stop",
    "responda sair",
    "responda pare",
    "responda stop",
    "descadastrar",
    "repondez stop",
    "desabonner",
    "desinscrire",
    "abmelden",
    "rispondi stop",
    "disiscriviti",
)
OPT_OUT_LABELS = frozenset({"stop", "unsubscribe", "opt out"})

# The platform writes authentication bodies itself; these are its wordings we know.
AUTH_BODIES: dict[str, tuple[str, ...]] = {
    "en": ("{{1}} is your verification code",),
    "es": ("{{1}} es tu codigo de verificacion",),
    "pt": ("{{1}} e seu codigo de verificacao", "{{1}} e o seu codigo de verificacao"),
}


def plain(text: str) -> str:
    """Case- and accent-free, for wording checks."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Longest first, so that "promo code" is reported rather than "promo".
_PROMOTIONAL = re.compile(
    r"(?<!\w)(?:" + "|".join(sorted(PROMOTIONAL_TERMS, key=len, reverse=True)) + r")(?!\w)"
)


def promotional_terms(text: str) -> list[str]:
    """The promotional words in a text, lower case and without accents."""
    return list(dict.fromkeys(m.group(0) for m in _PROMOTIONAL.finditer(plain(text))))
