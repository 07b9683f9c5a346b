"""Classify an inbound message as an opt-out, opt-in, help request or nothing.

The two directions are deliberately asymmetric:

* Opt-out is recognised *generously*. Regulators and carriers judge a revocation by what a
  reasonable person would read into the message, so "please stop sending me these" must count
  even though it is not the bare keyword STOP. Missing a revocation is the costly mistake.
* Opt-in is recognised *only* by an exact, whole-message keyword. Re-subscribing someone by
  accident is just as costly, and the words are close: Spanish ALTA (join) and ALTO (stop)
  differ by one letter, so nothing fuzzy is allowed here.

All keyword tables below hold text already in :func:`normalise` form (lower case, no accents,
no punctuation, single spaces); a multi-word entry matches a run of consecutive tokens.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "HELP_KEYWORDS",
    "OPT_IN_KEYWORDS",
    "OPT_OUT_ALL_KEYWORDS",
    "OPT_OUT_KEYWORDS",
    "OPT_OUT_PHRASES",
    "SHORT_MESSAGE_MAX_TOKENS",
    "KeywordKind",
    "KeywordMatch",
    "classify",
    "normalise",
]


class KeywordKind(StrEnum):
    OPT_OUT = "opt_out"  # stop marketing/messages on this channel
    OPT_OUT_ALL = "opt_out_all"  # STOPALL: every channel and topic
    OPT_IN = "opt_in"  # START/UNSTOP/ALTA... re-subscribe
    HELP = "help"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    kind: KeywordKind
    matched: str | None  # the keyword or phrase that matched, normalised (e.g. "stop", "no mas")
    language: str | None  # "en", "es", "pt", "fr", "de", "it" when the match is unambiguous


# --- Keyword tables ----------------------------------------------------------------------------
# A word listed under several languages (e.g. "stop" in en and fr, "parar" in es and pt) is
# reported with language=None: we cannot tell which language the contact is writing in.

# Single keywords (or short fixed expressions). They are only trusted in short messages or at
# the very start of a longer one -- see SHORT_MESSAGE_MAX_TOKENS.
# Multi-word expressions that are unambiguous anywhere ("darme de baja", "nao quero mais") live
# in OPT_OUT_PHRASES instead, which matches them at any position.
# Left out on purpose: Italian "fine" (= end) is the English "fine" ("that's fine") and would
# turn ordinary agreement into a revocation.
OPT_OUT_KEYWORDS: Mapping[str, tuple[str, ...]] = {
    "en": ("stop", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "opt out", "remove"),
    "es": ("baja", "alto", "parar", "cancelar", "detener"),
    "pt": ("sair", "parar", "cancelar", "descadastrar"),
    "fr": ("arret", "arreter", "stop", "desabonner", "desinscrire"),
    "de": ("stopp", "abmelden", "abbestellen", "kundigen", "beenden"),
    "it": ("basta", "annulla", "disiscrivi", "disiscrivimi", "cancellami"),
}

# Revocation of everything (all channels and topics). Same position rule as OPT_OUT_KEYWORDS,
# because "stop all" also occurs in ordinary sentences ("can't stop all the laughing").
OPT_OUT_ALL_KEYWORDS: Mapping[str, tuple[str, ...]] = {
    "en": ("stopall", "stop all"),
}

# Phrases that are unambiguous on their own, so they count anywhere in a message of any length.
OPT_OUT_PHRASES: Mapping[str, tuple[str, ...]] = {
    "en": (
        "stop sending",
        "stop messaging",
        "stop texting",
        "no more messages",
        "leave me alone",
        "take me off",
        "remove me",
        "unsubscribe me",
        "want to unsubscribe",
        "want to opt out",
    ),
    "es": ("no mas", "no me escriban", "no quiero recibir", "darme de baja"),
    "pt": ("nao quero mais", "pare de enviar", "nao envie mais"),
    "fr": ("ne plus recevoir", "veux plus recevoir", "arretez de", "plus de messages"),
    "de": ("keine nachrichten mehr", "nicht mehr schreiben"),
    "it": ("non scrivetemi", "non voglio piu", "basta messaggi"),
}

# Spanish "no más de 3 días" / "no más que dos" is "no more than <amount>", not a revocation.
# Only an amount right after "de"/"que" excuses it: "no más de sus mensajes" still opts out.
_SPANISH_NUMBERS = frozenset(
    {
        "un",
        "una",
        "uno",
        "dos",
        "tres",
        "cuatro",
        "cinco",
        "seis",
        "siete",
        "ocho",
        "nueve",
        "diez",
        "quince",
        "veinte",
        "treinta",
        "cien",
        "mil",
    }
)

# Opt-in: the whole message must be exactly one of these. "yes" is absent on purpose -- it is
# far too common in conversation to be read as consent to marketing.
OPT_IN_KEYWORDS: Mapping[str, tuple[str, ...]] = {
    "en": ("start", "unstop", "resume", "subscribe"),
    "es": ("alta",),
}

# Help: the whole message must be exactly one of these ("info" is shared, hence no language).
HELP_KEYWORDS: Mapping[str, tuple[str, ...]] = {
    "en": ("help", "info"),
    "es": ("ayuda", "info"),
    "pt": ("ajuda", "info"),
    "fr": ("aide", "info"),
    "de": ("hilfe", "info"),
    "it": ("aiuto", "info"),
}

# THE SHORT-MESSAGE RULE. A bare keyword such as "stop", "cancel" or "end" is an opt-out when the
# message is short (at most this many tokens: "STOP", "stop please", "BAJA por favor"), wherever
# it sits. In a longer message a keyword only counts when the message *starts* with it ("STOP
# sending me this every day"); otherwise it is ordinary language ("I can't stop smiling at this
# deal, how do I cancel my order?" is not a revocation). Phrases are exempt from this rule.
SHORT_MESSAGE_MAX_TOKENS = 4

_NONE = KeywordMatch(KeywordKind.NONE, None, None)


def _index(table: Mapping[str, tuple[str, ...]]) -> dict[str, str | None]:
    """Map each entry to its language, or to None when several languages share it."""
    index: dict[str, str | None] = {}
    for language, entries in table.items():
        for entry in entries:
            index[entry] = language if index.get(entry, language) == language else None
    return index


_OPT_OUT_ALL = _index(OPT_OUT_ALL_KEYWORDS)
_OPT_OUT = _index(OPT_OUT_KEYWORDS)
_PHRASES = _index(OPT_OUT_PHRASES)
_OPT_IN = _index(OPT_IN_KEYWORDS)
_HELP = _index(HELP_KEYWORDS)
# Every keyword and phrase starts with one of these words: a message with none of them is
# ordinary language, known without trying each entry (most messages are).
_FIRST_WORDS = frozenset(
    entry.split()[0]
    for index in (_OPT_OUT_ALL, _OPT_OUT, _PHRASES, _OPT_IN, _HELP)
    for entry in index
)


def normalise(text: str) -> str:
    """Lower-case, strip accents, turn punctuation/symbols into spaces and collapse whitespace.

    "¡NO MÁS!" -> "no mas"; "Arrêt." -> "arret"; "opt-out" -> "opt out".
    """
    # NFKD before casefold folds compatibility forms ("㎒" -> "MHz") so they get lower-cased;
    # NFKD again afterwards splits anything casefold produced into base letter + accent.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    out: list[str] = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category[0] == "M" or category == "Cf":
            continue  # accents, and invisible format chars (soft hyphen, zero-width joiner)
        out.append(" " if category[0] in "PSZ" or category == "Cc" else char)
    return " ".join("".join(out).split())


def _positions(tokens: tuple[str, ...], needle: tuple[str, ...]) -> Iterable[int]:
    """Start indexes where `needle` occurs in `tokens` as consecutive whole tokens."""
    size = len(needle)
    return (i for i in range(len(tokens) - size + 1) if tokens[i : i + size] == needle)


def _keyword(tokens: tuple[str, ...], index: Mapping[str, str | None]) -> str | None:
    short = len(tokens) <= SHORT_MESSAGE_MAX_TOKENS
    for entry in index:
        needle = tuple(entry.split())
        if (short and any(_positions(tokens, needle))) or tokens[: len(needle)] == needle:
            return entry
    return None


def _is_no_more_than(following: tuple[str, ...]) -> bool:
    if len(following) < 2 or following[0] not in ("de", "que"):
        return False
    amount = following[1]
    return amount in _SPANISH_NUMBERS or any(char.isdigit() for char in amount)


def _phrase(tokens: tuple[str, ...]) -> str | None:
    for entry in _PHRASES:
        needle = tuple(entry.split())
        for start in _positions(tokens, needle):
            following = tokens[start + len(needle) : start + len(needle) + 2]
            if not (entry == "no mas" and _is_no_more_than(following)):
                return entry
    return None


def classify(text: str) -> KeywordMatch:
    """Classify an inbound message. Opt-out wins over everything else ("stop help" is OPT_OUT)."""
    normalised = normalise(text)
    tokens = tuple(normalised.split())
    if _FIRST_WORDS.isdisjoint(tokens):
        return _NONE

    # The broader revocation first, so "stop stopall" revokes everything.
    if (found := _keyword(tokens, _OPT_OUT_ALL)) is not None:
        return KeywordMatch(KeywordKind.OPT_OUT_ALL, found, _OPT_OUT_ALL[found])
    # Phrases before keywords: "stop sending" says more (and names its language) than "stop".
    if (found := _phrase(tokens)) is not None:
        return KeywordMatch(KeywordKind.OPT_OUT, found, _PHRASES[found])
    if (found := _keyword(tokens, _OPT_OUT)) is not None:
        return KeywordMatch(KeywordKind.OPT_OUT, found, _OPT_OUT[found])

    # Opt-in and help are exact whole-message matches only: "start over" and "altas" are NONE.
    if normalised in _OPT_IN:
        return KeywordMatch(KeywordKind.OPT_IN, normalised, _OPT_IN[normalised])
    if normalised in _HELP:
        return KeywordMatch(KeywordKind.HELP, normalised, _HELP[normalised])
    return _NONE
