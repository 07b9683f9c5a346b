"""Tests for threadline.consent.keywords (inbound opt-out / opt-in / help classification)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threadline.consent.keywords import (
    HELP_KEYWORDS,
    OPT_IN_KEYWORDS,
    OPT_OUT_ALL_KEYWORDS,
    OPT_OUT_KEYWORDS,
    OPT_OUT_PHRASES,
    KeywordKind,
    KeywordMatch,
    classify,
    normalise,
)

OPT_OUT = KeywordKind.OPT_OUT
OPT_OUT_ALL = KeywordKind.OPT_OUT_ALL
OPT_IN = KeywordKind.OPT_IN
HELP = KeywordKind.HELP
NONE = KeywordKind.NONE

# Written out here rather than read from the module, so a change to the module's table that
# widens opt-in has to be made in the tests too.
OPT_IN_WORDS = frozenset({"start", "unstop", "resume", "subscribe", "alta"})

Row = tuple[str, str, str | None]  # (text, matched, language)


def _mixed_case(text: str) -> str:
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(text))


def _variants(text: str) -> list[str]:
    """The same short message written the ways people actually type it."""
    return [
        text,
        text.upper(),
        text.lower(),
        _mixed_case(text),
        f"{text}!!!",
        f"  ¡{text.upper()}?  ",
        f"{text.title()}.",
    ]


def _expand(rows: list[Row]) -> list[Row]:
    return [(variant, matched, lang) for text, matched, lang in rows for variant in _variants(text)]


# --- normalise ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("¡NO MÁS!", "no mas"),
        ("Arrêt.", "arret"),
        ("opt-out", "opt out"),
        ("OPT_OUT", "opt out"),
        ("  Kündigen\n\t JETZT ", "kundigen jetzt"),
        ("Não quero mais!!!", "nao quero mais"),
        ("DÉSINSCRIRE", "desinscrire"),
        ("STRAẞE", "strasse"),
        ("ＳＴＯＰ", "stop"),  # full-width letters
        ("sto\u00adp", "stop"),  # soft hyphen is invisible, not a word break
        ("stop🛑now", "stop now"),  # symbols separate words like punctuation does
        ("", ""),
        ("  \n\t ", ""),
        ("¿?¡!...", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_tables_are_in_normalised_form_and_cover_every_language() -> None:
    for table in (OPT_OUT_KEYWORDS, OPT_OUT_ALL_KEYWORDS, OPT_OUT_PHRASES, OPT_IN_KEYWORDS):
        for entries in table.values():
            for entry in entries:
                assert normalise(entry) == entry
    for entries in HELP_KEYWORDS.values():
        for entry in entries:
            assert normalise(entry) == entry
    assert set(OPT_OUT_KEYWORDS) == {"en", "es", "pt", "fr", "de", "it"}
    assert set(OPT_OUT_PHRASES) == {"en", "es", "pt", "fr", "de", "it"}
    assert {w for words in OPT_IN_KEYWORDS.values() for w in words} == OPT_IN_WORDS


# --- opt-out keywords, per language ------------------------------------------------------------
# (text, matched, language). Language is None for words shared by two languages.

EN_KEYWORDS: list[Row] = [
    ("stop", "stop", None),  # also French
    ("unsubscribe", "unsubscribe", "en"),
    ("cancel", "cancel", "en"),
    ("end", "end", "en"),
    ("quit", "quit", "en"),
    ("revoke", "revoke", "en"),
    ("optout", "optout", "en"),
    ("opt out", "opt out", "en"),
    ("opt-out", "opt out", "en"),
    ("remove", "remove", "en"),
]
ES_KEYWORDS: list[Row] = [
    ("baja", "baja", "es"),
    ("alto", "alto", "es"),
    ("parar", "parar", None),  # also Portuguese
    ("cancelar", "cancelar", None),  # also Portuguese
    ("detener", "detener", "es"),
]
PT_KEYWORDS: list[Row] = [
    ("sair", "sair", "pt"),
    ("descadastrar", "descadastrar", "pt"),
]
FR_KEYWORDS: list[Row] = [
    ("arrêt", "arret", "fr"),
    ("arret", "arret", "fr"),
    ("arrêter", "arreter", "fr"),
    ("désabonner", "desabonner", "fr"),
    ("désinscrire", "desinscrire", "fr"),
]
DE_KEYWORDS: list[Row] = [
    ("stopp", "stopp", "de"),
    ("abmelden", "abmelden", "de"),
    ("abbestellen", "abbestellen", "de"),
    ("kündigen", "kundigen", "de"),
    ("kundigen", "kundigen", "de"),
    ("beenden", "beenden", "de"),
]
IT_KEYWORDS: list[Row] = [
    ("basta", "basta", "it"),
    ("annulla", "annulla", "it"),
    ("disiscrivi", "disiscrivi", "it"),
    ("disiscrivimi", "disiscrivimi", "it"),
    ("cancellami", "cancellami", "it"),
]


@pytest.mark.parametrize(
    ("text", "matched", "language"),
    _expand(EN_KEYWORDS + ES_KEYWORDS + PT_KEYWORDS + FR_KEYWORDS + DE_KEYWORDS + IT_KEYWORDS),
)
def test_opt_out_keyword_alone(text: str, matched: str, language: str | None) -> None:
    assert classify(text) == KeywordMatch(OPT_OUT, matched, language)


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("stop please", "stop"),
        ("Stop!!!", "stop"),
        ("please STOP", "stop"),
        ("ok, stop it now", "stop"),  # 4 tokens: keyword may sit anywhere
        ("BAJA por favor", "baja"),
        ("por favor, baja", "baja"),
        ("quero sair agora", "sair"),
        ("bitte abmelden, danke", "abmelden"),
        ("me désabonner svp", "desabonner"),
        ("basta grazie", "basta"),
        ("cancel my subscription", "cancel"),
        ("please opt-out now", "opt out"),
    ],
)
def test_opt_out_keyword_in_short_message(text: str, matched: str) -> None:
    result = classify(text)
    assert (result.kind, result.matched) == (OPT_OUT, matched)


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("STOP, this is the third time today", "stop"),
        ("Cancel. I never signed up for any of this", "cancel"),
        ("Unsubscribe, I moved to another city last year", "unsubscribe"),
        ("Opt out of everything marketing related please", "opt out"),
        ("BAJA, no me interesa nada de esto", "baja"),
        ("Sair desta lista agora mesmo por favor", "sair"),
        ("Arrêt immédiat de ces envois svp", "arret"),
        ("Abmelden bitte, ich will das wirklich nicht", "abmelden"),
        ("Basta, sono stanco di queste offerte", "basta"),
    ],
)
def test_opt_out_keyword_leading_a_long_message(text: str, matched: str) -> None:
    result = classify(text)
    assert (result.kind, result.matched) == (OPT_OUT, matched)


# --- opt-out phrases, anywhere in a message of any length --------------------------------------

PHRASES = [
    # en
    ("Hi, could you please stop sending me these promos every morning?", "stop sending", "en"),
    ("STOP sending me this every day", "stop sending", "en"),
    ("Seriously, stop messaging me at night, it wakes the baby", "stop messaging", "en"),
    ("Can you guys stop texting my work phone?", "stop texting", "en"),
    ("Honestly, no more messages from you people, ever", "no more messages", "en"),
    ("I really need you to leave me alone with all these offers", "leave me alone", "en"),
    ("Please take me off your mailing list for good, thanks", "take me off", "en"),
    ("Can you remove me from this list right now", "remove me", "en"),
    ("Could you kindly unsubscribe me from the newsletter", "unsubscribe me", "en"),
    ("I want to unsubscribe from all of this", "want to unsubscribe", "en"),
    ("I want to opt-out", "want to opt out", "en"),
    # es
    ("Gracias, pero ¡NO MÁS! ya tengo suficiente", "no mas", "es"),
    ("Por favor, no más de sus mensajes en este número", "no mas", "es"),
    ("Gracias, no más de eso", "no mas", "es"),
    ("Ya está bien, no más que quiero dormir", "no mas", "es"),
    ("Hola, no me escriban más a este número por favor", "no me escriban", "es"),
    ("Ya no quiero recibir sus ofertas por WhatsApp", "no quiero recibir", "es"),
    ("Hola, quiero darme de baja de esta lista ahora", "darme de baja", "es"),
    # pt
    ("Olá, não quero mais receber essas promoções", "nao quero mais", "pt"),
    ("Por favor pare de enviar mensagens para mim", "pare de enviar", "pt"),
    ("Não envie mais nada para este número, obrigado", "nao envie mais", "pt"),
    # fr
    ("Bonjour, je souhaite ne plus recevoir vos offres par SMS", "ne plus recevoir", "fr"),
    ("Je ne veux plus recevoir vos messages, merci", "veux plus recevoir", "fr"),
    ("Arrêtez de m'écrire tous les jours s'il vous plaît", "arretez de", "fr"),
    ("Bonjour, plus de messages s'il vous plaît, merci", "plus de messages", "fr"),
    # de
    ("Bitte keine Nachrichten mehr an diese Nummer senden", "keine nachrichten mehr", "de"),
    ("Sie sollen mir nicht mehr schreiben, danke schön", "nicht mehr schreiben", "de"),
    # it
    ("Per favore non scrivetemi più su questo numero", "non scrivetemi", "it"),
    ("Non voglio più ricevere le vostre offerte, grazie", "non voglio piu", "it"),
    ("Basta messaggi, grazie mille davvero a tutti voi", "basta messaggi", "it"),
]


@pytest.mark.parametrize(("text", "matched", "language"), PHRASES)
def test_opt_out_phrase_inside_long_message(text: str, matched: str, language: str) -> None:
    assert classify(text) == KeywordMatch(OPT_OUT, matched, language)


@pytest.mark.parametrize(("text", "matched", "language"), PHRASES)
def test_opt_out_phrase_alone(text: str, matched: str, language: str) -> None:
    for variant in _variants(matched):
        assert classify(variant) == KeywordMatch(OPT_OUT, matched, language)


# --- STOPALL -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        *((variant, "stopall") for variant in _variants("stopall")),
        *((variant, "stop all") for variant in _variants("stop all")),
        ("Stop-all", "stop all"),
        ("STOP ALL messages please", "stop all"),
        ("StopAll, every channel, every topic, right now", "stopall"),
        ("stop stopall", "stopall"),  # the broader revocation wins
        ("baja stopall", "stopall"),
    ],
)
def test_opt_out_all(text: str, matched: str) -> None:
    assert classify(text) == KeywordMatch(OPT_OUT_ALL, matched, "en")


# --- opt-in: exact whole-message keyword only --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "matched", "language"),
    [
        *_expand([("start", "start", "en"), ("unstop", "unstop", "en")]),
        *_expand([("resume", "resume", "en"), ("subscribe", "subscribe", "en")]),
        *_expand([("alta", "alta", "es")]),
    ],
)
def test_opt_in_exact_keyword(text: str, matched: str, language: str) -> None:
    assert classify(text) == KeywordMatch(OPT_IN, matched, language)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ALTA", KeywordMatch(OPT_IN, "alta", "es")),
        ("alta.", KeywordMatch(OPT_IN, "alta", "es")),
        ("¡Alta!", KeywordMatch(OPT_IN, "alta", "es")),
        ("ALTO", KeywordMatch(OPT_OUT, "alto", "es")),
        ("alto.", KeywordMatch(OPT_OUT, "alto", "es")),
        ("¡Alto!", KeywordMatch(OPT_OUT, "alto", "es")),
        ("altas", KeywordMatch(NONE, None, None)),
        ("alta por favor", KeywordMatch(NONE, None, None)),
        ("alta alto", KeywordMatch(OPT_OUT, "alto", "es")),
    ],
)
def test_alta_alto_trap(text: str, expected: KeywordMatch) -> None:
    assert classify(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "start over",
        "please start",
        "Can we start on Monday?",
        "resume my order",
        "subscribe me",
        "starting",
        "restart",
        "unstoppable",
        "yes",
        "YES please",
        "Yes!",
        "sí",
        "sim",
        "oui",
        "ja",
        "ok",
    ],
)
def test_not_opt_in(text: str) -> None:
    assert classify(text).kind is not OPT_IN


def test_opt_out_beats_opt_in() -> None:
    assert classify("start stop").kind is OPT_OUT
    assert classify("STOP START").kind is OPT_OUT


# --- help --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "matched", "language"),
    _expand(
        [
            ("help", "help", "en"),
            ("info", "info", None),  # shared by every language
            ("ayuda", "ayuda", "es"),
            ("ajuda", "ajuda", "pt"),
            ("aide", "aide", "fr"),
            ("hilfe", "hilfe", "de"),
            ("aiuto", "aiuto", "it"),
        ]
    ),
)
def test_help(text: str, matched: str, language: str | None) -> None:
    assert classify(text) == KeywordMatch(HELP, matched, language)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("stop help", OPT_OUT),
        ("HELP STOP", OPT_OUT),
        ("help me", NONE),
        ("I need help with my order", NONE),
        ("more info please", NONE),
    ],
)
def test_help_must_be_the_whole_message_and_loses_to_opt_out(text: str, kind: KeywordKind) -> None:
    assert classify(text).kind is kind


# --- false-positive guards ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # keywords inside other words
        "stopwatch",
        "unstoppable",
        "endless",
        "backend",
        "quitar",
        "quite",
        "cancelled",
        "removed",
        "altos",
        "bajar",
        "stopallnow",
        "Stoppuhr",
        # long messages that merely use a keyword in passing
        "I can't stop smiling at this deal, how do I cancel my order?",
        "I will cancel my order if it doesn't arrive, where is it?",
        "the end of the week works",
        "We can remove the old address from the file tomorrow",
        "I can't stop all the laughing at your new ad",
        "Do you ship to Canada or should I quit trying?",
        "El precio es un poco alto para mí, ¿hay descuento?",
        "Vou sair de casa às 8, pode entregar depois?",
        # 'fine' is not an Italian opt-out: it is English agreement
        "fine",
        "That's fine",
        "fine, thanks",
        # 'no más de' is 'no more than'
        "¿Llega en no más de 3 días?",
        "No más de dos por persona, ¿verdad?",
        "Pido no más que 10 unidades, ¿hay stock?",
        "Necesito que llegue en no más de 48h por favor",
        # ordinary chatter
        "Hi, what time do you open on Saturday?",
        "yes",
        "ok",
        "thanks!",
    ],
)
def test_false_positive_guards(text: str) -> None:
    assert classify(text) == KeywordMatch(NONE, None, None)


@pytest.mark.parametrize("text", ["", " ", "\n\t  ", "!!!", "¿¡...?!", "🙂", "\u200b"])
def test_empty_or_punctuation_only(text: str) -> None:
    assert classify(text) == KeywordMatch(NONE, None, None)


# --- properties --------------------------------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzáéíóúñçüãõêâàèìòùß"
_words = st.text(alphabet=_LETTERS, min_size=1, max_size=10)
_separators = st.sampled_from([" ", ", ", "! ", "? ", "\n", " - ", "... ", "¡", "¿"])
_opt_in_word = st.sampled_from(sorted(OPT_IN_WORDS)).flatmap(
    lambda w: st.sampled_from([w, w.upper(), w.title(), _mixed_case(w)])
)


@given(st.text())
def test_classify_never_raises_and_opt_in_only_for_exact_words(text: str) -> None:
    result = classify(text)
    assert isinstance(result, KeywordMatch)
    assert (result.kind is OPT_IN) == (normalise(text) in OPT_IN_WORDS)


@given(_opt_in_word, st.lists(_words, min_size=1, max_size=6), st.data())
def test_opt_in_word_plus_other_words_is_never_opt_in(
    word: str, others: list[str], data: st.DataObject
) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(others)))
    tokens = [*others[:position], word, *others[position:]]
    text = tokens[0] + "".join(data.draw(_separators) + token for token in tokens[1:])
    assert classify(text).kind is not OPT_IN


@given(_opt_in_word, _words, st.booleans())
def test_opt_in_word_glued_to_other_letters_is_never_opt_in(
    word: str, other: str, before: bool
) -> None:
    assert classify(other + word if before else word + other).kind is not OPT_IN


@given(_opt_in_word, st.text(alphabet=" !?.¡¿,\n\t"), st.text(alphabet=" !?.¡¿,\n\t"))
def test_opt_in_word_with_surrounding_punctuation_is_opt_in(
    word: str, prefix: str, suffix: str
) -> None:
    assert classify(prefix + word + suffix).kind is OPT_IN


@given(st.text())
def test_normalise_is_idempotent_and_classify_depends_only_on_it(text: str) -> None:
    normalised = normalise(text)
    assert normalise(normalised) == normalised
    assert classify(normalised) == classify(text)


@given(
    st.sampled_from(sorted({w for words in OPT_OUT_KEYWORDS.values() for w in words})),
    st.text(),
)
def test_message_starting_with_opt_out_keyword_is_always_an_opt_out(word: str, rest: str) -> None:
    assert classify(f"{word.upper()} {rest}").kind in (OPT_OUT, OPT_OUT_ALL)
