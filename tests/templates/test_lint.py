"""Each lint rule: a template that breaks it and one that keeps it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from threadline.templates.definition import TemplateDefinition
from threadline.templates.lint import RULE_IDS, Finding, lint
from threadline.templates.lint.terms import promotional_terms
from threadline.templates.parsing import load_file, parse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "templates"

BODY = "Hi {{1}}, your order {{2}} is ready for pickup at the front desk today."
UTILITY: dict[str, Any] = {
    "name": "order_ready",
    "category": "UTILITY",
    "language": "en_US",
    "components": {
        "body": {
            "text": BODY,
            "variables": {"1": {"field": "first_name", "example": "Ana"}, "2": {"example": "A1"}},
        }
    },
}
AUTH: dict[str, Any] = {
    "name": "login_code",
    "category": "AUTHENTICATION",
    "language": "en_US",
    "components": {"buttons": [{"type": "otp", "otp_type": "copy_code", "text": "Copy code"}]},
}
MARKETING: dict[str, Any] = {
    "name": "news",
    "category": "MARKETING",
    "language": "en_US",
    "components": {"body": {"text": "Our new autumn range is in the shop this week."}},
}


def build(base: dict[str, Any], **changes: Any) -> TemplateDefinition:
    """The base template with components (or top-level keys) replaced."""
    data = copy.deepcopy(base)
    for key, value in changes.items():
        if key in {"name", "category", "parameter_format", "authentication"}:
            data[key] = value
        else:
            data["components"][key] = value
    return TemplateDefinition.model_validate(data)


def rules(defn: TemplateDefinition, **options: Any) -> set[str]:
    return {f.rule for f in lint(defn, **options)}


def body(text: str, **variables: Any) -> dict[str, Any]:
    return {"text": text, "variables": variables}


def ex(example: str = "x") -> dict[str, str]:
    return {"example": example}


def qr(text: str = "OK") -> dict[str, str]:
    return {"type": "quick_reply", "text": text}


def url(address: str = "https://a.example/x", **variable: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "url", "text": "Open", "url": address}
    if variable:
        out["variable"] = variable
    return out


def phone() -> dict[str, str]:
    return {"type": "phone_number", "text": "Call", "phone_number": "+15550001111"}


def copy_code(example: str = "SAVE10") -> dict[str, Any]:
    return {"type": "copy_code", "variable": {"value": example, "example": example}}


LONG_WORDS = " ".join(["word"] * 20)

# rule id -> (a template that breaks it, a template that keeps it)
CASES: dict[str, tuple[TemplateDefinition, TemplateDefinition]] = {
    "name-format": (build(UTILITY, name="Order Ready!"), build(UTILITY, name="order_ready_2")),
    "body-required": (build(UTILITY, body={}), build(UTILITY)),
    "body-length": (
        build(UTILITY, body=body("x" * 1025)),
        build(UTILITY, body=body("x" * 1024)),
    ),
    "header-length": (
        build(UTILITY, header={"type": "text", "text": "h" * 61}),
        build(UTILITY, header={"type": "text", "text": "h" * 60}),
    ),
    "header-variables": (
        build(UTILITY, header={"type": "text", "text": "{{1}} {{2}}", "variables": [ex(), ex()]}),
        build(UTILITY, header={"type": "text", "text": "Order {{1}}", "variables": [ex()]}),
    ),
    "header-media-example": (
        build(UTILITY, header={"type": "image"}),
        build(UTILITY, header={"type": "image", "example": "4::aGFuZGxl"}),
    ),
    "footer-length": (
        build(UTILITY, footer={"text": "f" * 61}),
        build(UTILITY, footer={"text": "f" * 60}),
    ),
    "footer-variables": (
        build(UTILITY, footer={"text": "Ref {{1}}"}),
        build(UTILITY, footer={"text": "Reply to ask us anything"}),
    ),
    "buttons-total": (
        build(UTILITY, buttons=[qr(f"Q{i}") for i in range(10)] + [phone()]),
        build(UTILITY, buttons=[qr(f"Q{i}") for i in range(9)] + [phone()]),
    ),
    "buttons-per-type": (
        build(UTILITY, buttons=[phone(), phone()]),
        build(UTILITY, buttons=[phone(), url(), url()]),
    ),
    "buttons-grouping": (
        build(UTILITY, buttons=[qr("A"), phone(), qr("B")]),
        build(UTILITY, buttons=[qr("A"), qr("B"), phone()]),
    ),
    "button-label-length": (
        build(UTILITY, buttons=[qr("b" * 26)]),
        build(UTILITY, buttons=[qr("b" * 25)]),
    ),
    "url-length": (
        build(UTILITY, buttons=[url("https://a.example/" + "p" * 1990)]),
        build(UTILITY, buttons=[url("https://a.example/" + "p" * 1982)]),
    ),
    "url-variable": (
        build(UTILITY, buttons=[url("https://a.example/{{1}}/track", example="7")]),
        build(UTILITY, buttons=[url("https://a.example/track/{{1}}", example="7")]),
    ),
    "copy-code-example": (
        build(MARKETING, buttons=[copy_code("C" * 16)]),
        build(MARKETING, buttons=[copy_code("C" * 15)]),
    ),
    "variables-named": (
        build(UTILITY, body=body("Hi {{First Name}}, your order is ready now.")),
        build(
            UTILITY,
            parameter_format="NAMED",
            body=body("Hi {{first_name}}, your order is ready now.", first_name=ex()),
        ),
    ),
    "variables-mixed": (
        build(UTILITY, body=body("Hi {{1}}, order {{order}} is ready now.", **{"1": ex()})),
        build(UTILITY),
    ),
    "variables-format": (
        build(UTILITY, body=body("Hi {{name}}, your order is ready now.", name=ex())),
        build(
            UTILITY,
            parameter_format="NAMED",
            body=body("Hi {{name}}, your order is ready now.", name=ex()),
        ),
    ),
    "variables-sequential": (
        build(UTILITY, body=body("Hi {{1}}, order {{3}} is ready now.", **{"1": ex(), "3": ex()})),
        build(UTILITY),
    ),
    "variable-example": (
        build(UTILITY, body=body(BODY, **{"1": ex(), "2": {"field": "order_id"}})),
        build(UTILITY),
    ),
    "variable-unused": (
        build(UTILITY, body=body("Your order is ready for pickup now.", **{"1": ex()})),
        build(UTILITY),
    ),
    "variable-at-edge": (
        build(UTILITY, body=body("{{1}}, your order is ready for pickup.", **{"1": ex()})),
        build(UTILITY, body=body("Hi {{1}}, your order is ready for pickup.", **{"1": ex()})),
    ),
    "variables-adjacent": (
        build(UTILITY, body=body("Hi {{1}} {{2}}, your order is ready.", **{"1": ex(), "2": ex()})),
        build(UTILITY),
    ),
    "variable-density": (
        build(UTILITY, body=body("Hi {{1}}, order {{2}} ok.", **{"1": ex(), "2": ex()})),
        build(UTILITY, body=body("Hi {{1}}, order {{2}} is ready now.", **{"1": ex(), "2": ex()})),
    ),
    "newlines": (
        build(UTILITY, body=body("Your order is ready.\n\n\nSee you soon at the shop.")),
        build(UTILITY, body=body("Your order is ready.\n\nSee you soon at the shop.")),
    ),
    "whitespace-edges": (
        build(UTILITY, body=body("Your order is ready for pickup. ")),
        build(UTILITY, body=body("Your order is ready for pickup.")),
    ),
    "category-promotional": (
        build(UTILITY, body=body("Your order is ready. Use coupon SAVE for 20% off next time.")),
        build(UTILITY),
    ),
    "copy-code-category": (
        build(UTILITY, buttons=[copy_code()]),
        build(MARKETING, buttons=[copy_code()]),
    ),
    "otp-outside-auth": (
        build(UTILITY, buttons=[{"type": "otp", "otp_type": "copy_code"}]),
        build(AUTH),
    ),
    "auth-header": (build(AUTH, header={"type": "image", "example": "h"}), build(AUTH)),
    "auth-fixed-text": (
        build(AUTH, body={"text": "Use {{1}} to log in to the shop."}),
        build(AUTH, body={"text": "*{{1}}* is your verification code."}),
    ),
    "auth-url": (
        build(AUTH, buttons=[{"type": "otp", "otp_type": "copy_code", "text": "www.x.com"}]),
        build(AUTH),
    ),
    "auth-emoji": (
        build(AUTH, buttons=[{"type": "otp", "otp_type": "copy_code", "text": "Copy 🔑"}]),
        build(AUTH),
    ),
    "auth-otp-button": (build(AUTH, buttons=[qr()]), build(AUTH)),
    "otp-supported-apps": (
        build(AUTH, buttons=[{"type": "otp", "otp_type": "one_tap"}]),
        build(
            AUTH,
            buttons=[
                {
                    "type": "otp",
                    "otp_type": "one_tap",
                    "supported_apps": [{"package_name": "com.a", "signature_hash": "12345678901"}],
                }
            ],
        ),
    ),
    "marketing-opt-out": (
        build(MARKETING),
        build(MARKETING, footer={"text": "Reply STOP to unsubscribe"}),
    ),
}


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == set(RULE_IDS)


@pytest.mark.parametrize("rule", list(CASES))
def test_rule_fires_on_the_bad_case_only(rule: str) -> None:
    bad, good = CASES[rule]
    assert rule in rules(bad, require_opt_out_text=True)
    assert rule not in rules(good, require_opt_out_text=True)


def test_finding_shape_and_where() -> None:
    defn = build(UTILITY, buttons=[qr("b" * 26)])
    assert lint(defn) == [
        Finding(
            "button-label-length",
            "error",
            "components.buttons.0.text",
            f"button label '{'b' * 26}' is 26 characters; the limit is 25",
        )
    ]


def test_severities() -> None:
    warnings = {"variable-unused", "variable-density", "newlines", "whitespace-edges"}
    warnings |= {"category-promotional", "copy-code-category"}
    for rule, (bad, _good) in CASES.items():
        found = [f for f in lint(bad, require_opt_out_text=True) if f.rule == rule]
        assert {f.severity for f in found} == {"warning" if rule in warnings else "error"}, rule


def test_opt_out_only_when_required_and_phrases_are_configurable() -> None:
    defn = build(MARKETING)
    assert "marketing-opt-out" not in rules(defn)
    defn = build(MARKETING, footer={"text": "Antworte ABMELDEN zum Abbestellen"})
    assert "marketing-opt-out" not in rules(defn, require_opt_out_text=True)
    assert "marketing-opt-out" in rules(
        defn, require_opt_out_text=True, opt_out_phrases=("reply stop",)
    )
    with_button = build(MARKETING, buttons=[qr("Stop promotions")])
    assert "marketing-opt-out" not in rules(with_button, require_opt_out_text=True)
    stop_only = build(MARKETING, buttons=[qr("STOP")])
    assert "marketing-opt-out" not in rules(stop_only, require_opt_out_text=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Aproveite a promoção: 30% de desconto!", ["promocao", "desconto"]),
        (
            "¡Oferta! Envío gratis por tiempo limitado",
            ["oferta", "envio gratis", "tiempo limitado"],
        ),
        ("Jetzt mit Rabatt und Gutschein", ["rabatt", "gutschein"]),
        ("Soldes : livraison gratuite", ["soldes", "livraison gratuite"]),
        ("Buy now and get 15 % off", ["buy now", "15 % off"]),
        ("Your wholesale invoice is attached", []),
        ("Your appointment is confirmed for Tuesday", []),
    ],
)
def test_promotional_wording_in_several_languages(text: str, expected: list[str]) -> None:
    assert promotional_terms(text) == expected


def test_promotional_warning_names_the_words_and_the_bill() -> None:
    defn = build(UTILITY, body=body("Your order shipped. Oferta: 10% de descuento."))
    (finding,) = [f for f in lint(defn) if f.rule == "category-promotional"]
    assert finding.message == (
        "reads as promotional ('oferta', 'descuento'): Meta will recategorise it as MARKETING "
        "and bill it at the marketing rate"
    )


def test_authentication_other_languages_and_zero_tap() -> None:
    spanish = build(AUTH, body={"text": "{{1}} es tu código de verificación."})
    assert "auth-fixed-text" not in rules(spanish)
    german = TemplateDefinition.model_validate(
        {
            **copy.deepcopy(AUTH),
            "language": "de",
            "components": {
                "body": {"text": "Dein Code lautet {{1}}."},
                "buttons": [{"type": "otp", "otp_type": "copy_code"}],
            },
        }
    )
    (finding,) = [f for f in lint(german) if f.rule == "auth-fixed-text"]
    assert finding.severity == "warning"
    zero_tap = build(
        AUTH,
        buttons=[
            {
                "type": "otp",
                "otp_type": "zero_tap",
                "supported_apps": [{"package_name": "com.a", "signature_hash": "short"}],
            }
        ],
    )
    messages = [f.message for f in lint(zero_tap) if f.rule == "otp-supported-apps"]
    assert len(messages) == 2
    assert any("zero_tap_terms_accepted" in m for m in messages)


def test_authentication_wording_is_not_checked_as_variables() -> None:
    wording = "*{{1}}* is your verification code. For your security, do not share this code."
    assert lint(build(AUTH, body={"text": wording})) == []


def test_auth_footer_text_is_refused() -> None:
    assert "auth-fixed-text" in rules(build(AUTH, footer={"text": "Valid 10 minutes"}))


def test_localized_findings_name_the_language() -> None:
    (defn,) = parse(
        "name: hi\ncategory: UTILITY\nlanguages:\n"
        "  en_US: {body: {text: Your order is ready for pickup.}}\n"
        "  pt_BR: {body: {text: 'Seu pedido está pronto. Frete grátis na próxima!'}}\n",
        "t.yaml",
    )
    (finding,) = lint(defn)
    assert finding.where == "languages.pt_BR.body.text"
    assert finding.message.startswith("pt_BR: reads as promotional ('frete gratis')")
    assert defn.line_of(finding.where) == 5


def test_examples_are_clean_and_the_bad_one_is_not() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for defn in load_file(path):
            assert lint(defn, require_opt_out_text=True) == [], path
    (bad,) = load_file(EXAMPLES / "bad" / "promo_as_utility.yaml")
    assert {"category-promotional", "name-format", "variables-adjacent"} <= rules(bad)
