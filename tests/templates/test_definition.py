"""Template files: loading with file:line problems, the create-template request body, and
the send content with variables resolved."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from threadline.channels import messages as m
from threadline.channels.whatsapp.render import render
from threadline.templates.definition import QuickReply, TemplateDefinition, TemplateSendError
from threadline.templates.graph_payload import to_graph_payload
from threadline.templates.parsing import TemplateFileError, load_file, parse
from threadline.templates.sending import send_parameters

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "templates"


def one(text: str) -> TemplateDefinition:
    found = parse(textwrap.dedent(text).lstrip("\n"), "t.yaml")
    assert len(found) == 1
    return found[0]


def problems(text: str) -> list[str]:
    with pytest.raises(TemplateFileError) as caught:
        parse(textwrap.dedent(text).lstrip("\n"), "t.yaml")
    return [str(p) for p in caught.value.problems]


POSITIONAL = """
name: order_update
category: UTILITY
language: en_US
components:
  header:
    type: text
    text: "Order {{1}}"
    variables: [{field: order_id, example: A-1}]
  body:
    text: "Hi {{1}}, order {{2}} ships on {{3}} from us."
    variables:
      1: {field: first_name, default: there, example: Ana}
      2: {field: order_id, example: A-1}
      3: {value: Monday, example: Tuesday}
  footer: {text: Thanks}
  buttons:
    - type: url
      text: Track
      url: "https://x.example/t/{{1}}"
      variable: {field: order_id, example: A-1}
    - {type: phone_number, text: Call us, phone_number: "+15550001111"}
"""

NAMED = """
name: reminder
category: utility
parameter_format: named
language: en_US
components:
  header:
    type: text
    text: "For {{first_name}}"
    variables: {first_name: {field: first_name, example: Ana}}
  body:
    text: "Hello {{first_name}}, see you at {{time}} today."
    variables:
      first_name: {field: first_name, example: Ana}
      time: {field: slot, example: "9:30"}
  buttons:
    - {type: quick_reply, text: Confirm, payload: YES}
    - {type: quick_reply, text: Later}
"""


# ---------------------------------------------------------------- loading


def test_a_single_template_loads_with_types_normalised() -> None:
    defn = one(NAMED)
    assert defn.category == "UTILITY" and defn.parameter_format == "NAMED"
    assert defn.localized().keys() == {"en_US"}
    assert defn.origin == "t.yaml"
    assert defn.line_of() == 1
    assert defn.line_of("components.body.text") == 11


def test_a_list_of_templates_and_numbers_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            templates:
              - name: a
                category: UTILITY
                language: en_US
                components:
                  body:
                    text: "Order {{1}} ships on {{2}} from our shop."
                    variables: [{example: 1001}, {example: 2.5, default: 7}]
              - name: b
                category: MARKETING
                language: pt_BR
                components: {body: {text: Oi}, buttons: [{type: quick_reply, text: No}]}
            """
        ),
        encoding="utf-8",
    )
    first, second = load_file(path)
    assert (first.name, second.name) == ("a", "b")
    body_vars = first.localized()["en_US"].body.variables
    assert {k: (v.example, v.default) for k, v in body_vars.items()} == {
        "1": ("1001", None),
        "2": ("2.5", "7"),
    }
    assert second.line_of() == 9
    assert second.line_of("components.buttons.0.text") == 12
    assert second.localized()["pt_BR"].buttons[0] == QuickReply(type="quick_reply", text="No")


def test_lines_of_places_inside_a_template() -> None:
    defn = one(POSITIONAL)
    assert defn.line_of("components.body.variables.2") == 13  # a mapping key written as 2
    assert defn.line_of(("components", "buttons", 1, "phone_number")) == 21
    assert defn.line_of("components.body.nothing.here") == 9  # the nearest enclosing line


def test_languages_map_to_components() -> None:
    defn = one(
        """
        name: hi
        category: UTILITY
        languages:
          en_US: {body: {text: Hello there friend}}
          pt_BR: {body: {text: Ola amigo}}
        """
    )
    assert list(defn.localized()) == ["en_US", "pt_BR"]
    assert defn.base("pt_BR") == ("languages", "pt_BR")
    assert defn.line_of("languages.pt_BR.body.text") == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [x\n", "t.yaml:2: not valid YAML"),
        ("- a\n- b\n", "t.yaml:1: a template file is a template mapping"),
        ("templates: []\n", "t.yaml:1: `templates:` is a non-empty list"),
        (
            "name: x\ncategory: PROMO\nlanguage: en_US\ncomponents: {body: {text: hi}}\n",
            "t.yaml:2: template x: category: Input should be 'MARKETING', 'UTILITY' or",
        ),
        (
            "name: x\ncategory: UTILITY\nlanguage: english\ncomponents: {body: {text: hi}}\n",
            "t.yaml:3: template x: language: 'english' is not a language code",
        ),
        (
            "name: x\ncategory: UTILITY\nlanguage: en_US\ncomponents:\n  body: {text: hi}\n"
            "  colour: red\n",
            "t.yaml:6: template x: components.colour: Extra inputs are not permitted",
        ),
        (
            "name: x\ncategory: UTILITY\nlanguage: en_US\ncomponents:\n  body: {text: hi}\n"
            "  buttons:\n    - type: url\n      text: Go\n",
            "t.yaml:7: template x: components.buttons.0.url: Field required",
        ),
        (
            "name: x\ncategory: UTILITY\nlanguage: en_US\ncomponents:\n  body: {text: hi}\n"
            "  buttons:\n    - {type: link, text: Go}\n",
            "t.yaml:7: template x: components.buttons.0: Input tag 'link'",
        ),
        (
            "name: x\ncategory: UTILITY\nlanguage: en_US\ncomponents:\n  body:\n    text: hi\n"
            "    variables:\n      1: {field: a, value: b}\n",
            "t.yaml:8: template x: components.body.variables.1: give field or value, not both",
        ),
        (
            "name: x\ncategory: UTILITY\nlanguage: en_US\n",
            "t.yaml:1: template x: template: give language with components, or languages",
        ),
        (
            "name: x\ncategory: AUTHENTICATION\nlanguage: en_US\ncomponents: {}\n"
            "authentication: {code_expiration_minutes: 91}\n",
            "t.yaml:5: template x: authentication.code_expiration_minutes: Input should be less",
        ),
    ],
)
def test_problems_name_the_file_and_line(text: str, expected: str) -> None:
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


def test_every_bad_template_in_a_list_is_reported() -> None:
    found = problems(
        """
        templates:
          - name: a
            category: UTILITY
            language: en_US
            components: {body: {text: hi}, footer: {}}
          - name: b
            category: NOPE
            language: en_US
            components: {body: {text: hi}}
        """
    )
    assert found[0].startswith("t.yaml:5: template a: components.footer.text: Field required")
    assert found[1].startswith("t.yaml:7: template b: category:")


def test_a_language_twice_is_a_problem() -> None:
    found = problems(
        """
        templates:
          - {name: a, category: UTILITY, language: en_US, components: {body: {text: hi}}}
          - {name: a, category: UTILITY, language: en_US, components: {body: {text: yo}}}
        """
    )
    assert found == ["t.yaml:3: template a: en_US is defined twice (first at line 2)"]


def test_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(TemplateFileError) as caught:
        load_file(tmp_path / "missing.yaml")
    assert (
        str(caught.value) == f"{tmp_path / 'missing.yaml'}: cannot read: No such file or directory"
    )


def test_the_examples_load() -> None:
    names = {d.name for path in sorted(EXAMPLES.glob("*.yaml")) for d in load_file(path)}
    assert names == {"order_update", "appointment_reminder", "spring_sale", "login_code"}


# ---------------------------------------------------------------- create request


def test_positional_payload() -> None:
    assert to_graph_payload(one(POSITIONAL), "en_US") == {
        "name": "order_update",
        "language": "en_US",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {
                "type": "HEADER",
                "format": "TEXT",
                "text": "Order {{1}}",
                "example": {"header_text": ["A-1"]},
            },
            {
                "type": "BODY",
                "text": "Hi {{1}}, order {{2}} ships on {{3}} from us.",
                "example": {"body_text": [["Ana", "A-1", "Tuesday"]]},
            },
            {"type": "FOOTER", "text": "Thanks"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {
                        "type": "URL",
                        "text": "Track",
                        "url": "https://x.example/t/{{1}}",
                        "example": ["https://x.example/t/A-1"],
                    },
                    {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550001111"},
                ],
            },
        ],
    }


def test_named_payload() -> None:
    assert to_graph_payload(one(NAMED)) == {
        "name": "reminder",
        "language": "en_US",
        "category": "UTILITY",
        "parameter_format": "NAMED",
        "components": [
            {
                "type": "HEADER",
                "format": "TEXT",
                "text": "For {{first_name}}",
                "example": {
                    "header_text_named_params": [{"param_name": "first_name", "example": "Ana"}]
                },
            },
            {
                "type": "BODY",
                "text": "Hello {{first_name}}, see you at {{time}} today.",
                "example": {
                    "body_text_named_params": [
                        {"param_name": "first_name", "example": "Ana"},
                        {"param_name": "time", "example": "9:30"},
                    ]
                },
            },
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "Confirm"},
                    {"type": "QUICK_REPLY", "text": "Later"},
                ],
            },
        ],
    }


MEDIA = """
name: sale
category: MARKETING
language: es_MX
components:
  header: {type: document, example: "4::aGVsbG8=", filename: menu.pdf}
  body: {text: Our new menu is here for you.}
  buttons:
    - type: copy_code
      variable: {value: SAVE10, example: SAVE10}
"""


def test_media_header_and_copy_code_payload() -> None:
    assert to_graph_payload(one(MEDIA))["components"] == [
        {"type": "HEADER", "format": "DOCUMENT", "example": {"header_handle": ["4::aGVsbG8="]}},
        {"type": "BODY", "text": "Our new menu is here for you."},
        {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "SAVE10"}]},
    ]


def test_location_header_payload() -> None:
    defn = one(
        """
        name: visit
        category: UTILITY
        language: en
        components:
          header: {type: location}
          body: {text: Our shop is here.}
        """
    )
    assert to_graph_payload(defn)["components"][0] == {"type": "HEADER", "format": "LOCATION"}


OTP = """
name: login_code
category: AUTHENTICATION
language: en_US
authentication: {add_security_recommendation: true, code_expiration_minutes: 5}
components:
  buttons:
    - {type: otp, otp_type: copy_code, text: Copy code}
"""


def test_otp_copy_code_payload() -> None:
    assert to_graph_payload(one(OTP)) == {
        "name": "login_code",
        "language": "en_US",
        "category": "AUTHENTICATION",
        "components": [
            {"type": "BODY", "add_security_recommendation": True},
            {"type": "FOOTER", "code_expiration_minutes": 5},
            {
                "type": "BUTTONS",
                "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}],
            },
        ],
    }


def test_otp_zero_tap_payload() -> None:
    defn = one(
        """
        name: login_code
        category: AUTHENTICATION
        language: en_US
        components:
          buttons:
            - type: otp
              otp_type: zero_tap
              text: Copy code
              autofill_text: Autofill
              zero_tap_terms_accepted: true
              supported_apps: [{package_name: com.example.app, signature_hash: K8a/AINcGX7}]
        """
    )
    assert to_graph_payload(defn)["components"] == [
        {"type": "BODY", "add_security_recommendation": False},
        {
            "type": "BUTTONS",
            "buttons": [
                {
                    "type": "OTP",
                    "otp_type": "ZERO_TAP",
                    "text": "Copy code",
                    "autofill_text": "Autofill",
                    "zero_tap_terms_accepted": True,
                    "supported_apps": [
                        {"package_name": "com.example.app", "signature_hash": "K8a/AINcGX7"}
                    ],
                }
            ],
        },
    ]


def test_payload_needs_examples_and_a_known_language() -> None:
    defn = one(
        """
        name: x
        category: UTILITY
        language: en_US
        components: {body: {text: "Hi {{1}} and welcome aboard"}}
        """
    )
    with pytest.raises(TemplateSendError, match=r"body variable \{\{1\}\} has no example"):
        to_graph_payload(defn)
    with pytest.raises(TemplateSendError, match="has no fr version"):
        to_graph_payload(defn, "fr")


def test_several_languages_need_one_named() -> None:
    path = EXAMPLES / "appointment_reminder.yaml"
    (defn,) = load_file(path)
    with pytest.raises(TemplateSendError, match="several languages"):
        to_graph_payload(defn)
    assert to_graph_payload(defn, "es_ES")["language"] == "es_ES"


# ---------------------------------------------------------------- sending


def test_send_resolves_override_then_field_then_value_then_default() -> None:
    defn = one(POSITIONAL)
    content = send_parameters(defn, "en_US", {"order_id": "A-9"}, {"body.3": "Friday"})
    assert content == m.Template(
        name="order_update",
        language="en_US",
        header_text=["A-9"],
        body=["there", "A-9", "Friday"],
        buttons=[m.TemplateButtonParam(index=0, sub_type="url", value="A-9")],
    )
    content = send_parameters(defn, None, {"first_name": "Ana", "order_id": 7}, {})
    assert content.body == ["Ana", "7", "Monday"]
    plain = send_parameters(defn, None, {"order_id": "A-9"}, {"1": "Bo", "header.1": "H"})
    assert plain.header_text == ["H"]
    assert send_parameters(defn, None, {"order_id": "A-9"}, {"1": "Bo"}).header_text == ["A-9"]
    assert send_parameters(defn, None, {"order_id": "A-9"}, {"1": "Bo"}).body == [
        "Bo",
        "A-9",
        "Monday",
    ]


def test_send_names_the_missing_variable() -> None:
    defn = one(POSITIONAL)
    with pytest.raises(TemplateSendError) as caught:
        send_parameters(defn, None, {"first_name": "Ana", "order_id": "  "}, {})
    assert str(caught.value) == (
        "template order_update (en_US): header variable {{1}} has no value: the contact has no "
        "order_id and it has no default; pass overrides['header.1']"
    )


def test_send_undeclared_variable_needs_an_override() -> None:
    defn = one(
        """
        name: x
        category: UTILITY
        language: en_US
        components: {body: {text: "Hi {{1}} and welcome aboard"}}
        """
    )
    with pytest.raises(TemplateSendError, match=r"not declared under variables"):
        send_parameters(defn, None, {}, {})
    assert send_parameters(defn, None, {}, {"body.1": "Ana"}).body == ["Ana"]


def test_send_named_and_quick_reply_payloads() -> None:
    named = send_parameters(one(NAMED), None, {"slot": "1"}, {"first_name": "Bo"})
    assert named.header_text == {"first_name": "Bo"} and named.body == {
        "first_name": "Bo",
        "time": "1",
    }
    content = send_parameters(one(NAMED), "en_US", {"first_name": "Ana", "slot": "10:00"})
    assert content.header_text == {"first_name": "Ana"}
    assert content.body == {"first_name": "Ana", "time": "10:00"}
    assert content.buttons == [m.TemplateButtonParam(index=0, sub_type="quick_reply", value="YES")]


def test_send_nested_contact_fields() -> None:
    defn = one(
        """
        name: x
        category: UTILITY
        language: en_US
        components:
          body:
            text: "Your parcel goes to {{1}} tomorrow."
            variables: [{field: address.city, example: Porto}]
        """
    )
    assert send_parameters(defn, None, {"address": {"city": "Porto"}}).body == ["Porto"]


def test_send_media_copy_code_and_render() -> None:
    defn = one(MEDIA)
    with pytest.raises(TemplateSendError, match="header document has no value"):
        send_parameters(defn, None, {})
    content = send_parameters(defn, None, {}, {"header": "media-123"})
    assert content.header_media == m.TemplateMedia(
        kind="document", media_id="media-123", filename="menu.pdf"
    )
    linked = send_parameters(defn, None, {}, {"header": "https://cdn.example/menu.pdf"})
    assert linked.header_media is not None
    assert linked.header_media.link == "https://cdn.example/menu.pdf"
    rendered: dict[str, Any] = render(content, "5511999990000")
    assert rendered["template"]["components"] == [
        {
            "type": "header",
            "parameters": [
                {"type": "document", "document": {"id": "media-123", "filename": "menu.pdf"}}
            ],
        },
        {
            "type": "button",
            "sub_type": "copy_code",
            "index": "0",
            "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}],
        },
    ]


def test_send_media_header_uses_a_sample_url() -> None:
    (defn,) = load_file(EXAMPLES / "spring_sale.yaml")
    content = send_parameters(defn, None, {"first_name": "Ana"})
    assert content.header_media is not None
    assert content.header_media.link == "https://cdn.example.com/campaigns/spring-sale.jpg"


def test_send_location_header() -> None:
    defn = one(
        """
        name: visit
        category: UTILITY
        language: en
        components:
          header: {type: location, location: {latitude: 41.1, longitude: -8.6, name: Shop}}
          body: {text: Our shop is here.}
        """
    )
    assert send_parameters(defn, None, {}).header_location == m.Location(
        latitude=41.1, longitude=-8.6, name="Shop"
    )
    other = m.Location(latitude=1, longitude=2)
    assert send_parameters(defn, None, {}, location=other).header_location == other


def test_send_authentication_code() -> None:
    defn = one(OTP)
    content = send_parameters(defn, None, {}, {"code": "123456"})
    assert content == m.Template(name="login_code", language="en_US", otp_code="123456")
    assert render(content, "1")["template"]["components"][0] == {
        "type": "body",
        "parameters": [{"type": "text", "text": "123456"}],
    }
    with pytest.raises(TemplateSendError, match=r"verification code has no value"):
        send_parameters(defn, None, {}, {})
