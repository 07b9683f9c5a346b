"""A broadcast's message made personal: `{{contact.name}}` and `{{contact.<field>}}` filled
from the contact, fallbacks after `|`, and a message refused for a person when a placeholder
has neither (a "Hi ," or an empty template parameter is worse than no message).

Contacts are unsaved ORM objects: nothing here touches the database."""

from __future__ import annotations

from typing import Any

import pytest

from threadline.broadcasts.personalize import MissingValue, has_placeholders, personal
from threadline.channels.messages import Content, Template, Text
from threadline.contacts.models import Contact


def contact(name: str = "Ana", **fields: Any) -> Contact:
    return Contact(
        id="c1", workspace_id="w", name=name, fields=fields, interests=[], holdout_bucket=1
    )


def body(text: str, who: Contact) -> str:
    filled = personal(Text(body=text), who)
    return str(filled["body"])


# --- placeholders filled --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi {{contact.name}}!", "Hi Ana!"),
        ("Your plan: {{contact.plan}}", "Your plan: gold"),
        ("See you in {{contact.address.city}}", "See you in Lisbon"),
        # Spaces inside the braces are how people type it; they must not leak through.
        ("Hi {{ contact.name }}", "Hi Ana"),
        ("{{contact.name}}, {{contact.plan}} in {{contact.address.city}}", "Ana, gold in Lisbon"),
        # A zero is a value, not a missing one.
        ("{{contact.visits}} visits", "0 visits"),
    ],
)
def test_placeholders_are_filled_from_the_contact(text: str, expected: str) -> None:
    who = contact(plan="gold", address={"city": "Lisbon"}, visits=0)
    assert body(text, who) == expected


@pytest.mark.parametrize(
    ("points", "shown"),
    [
        (3.0, "3"),  # stored as a JSON number: "3 points", never "3.0 points"
        (2.5, "2.5"),
        (12, "12"),
    ],
)
def test_whole_numbers_are_shown_without_a_decimal_point(points: float, shown: str) -> None:
    assert body("You have {{contact.points}} points", contact(points=points)) == (
        f"You have {shown} points"
    )


def test_text_that_is_not_a_contact_placeholder_is_left_as_written() -> None:
    # Only contact placeholders are broadcast placeholders; anything else is the author's.
    who = contact()
    assert body("Order {{order.id}} for {{contact.name}}", who) == "Order {{order.id}} for Ana"
    assert personal(Text(body="Hello all"), who) == {
        "type": "text",
        "body": "Hello all",
        "preview_url": False,
    }


# --- fallbacks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "Hi there"),  # no such field: the fallback
        ({"first_name": ""}, "Hi there"),  # an empty value is no value
        ({"first_name": "Bo"}, "Hi Bo"),  # a value wins over the fallback
    ],
)
def test_a_fallback_stands_in_for_a_missing_value(fields: dict[str, Any], expected: str) -> None:
    assert body("Hi {{contact.first_name|there}}", contact(**fields)) == expected


def test_spaces_around_a_fallback_are_not_part_of_it() -> None:
    assert body("Hi {{ contact.first_name | there }}!", contact()) == "Hi there!"


def test_an_empty_name_takes_the_fallback() -> None:
    assert body("Hi {{contact.name|friend}}", contact(name="")) == "Hi friend"


def test_a_contact_without_fields_takes_the_fallback() -> None:
    # An unsaved contact has no fields dict at all until the database fills the default.
    bare = Contact(id="c1", workspace_id="w", name="Ana", interests=[], holdout_bucket=1)
    assert body("{{contact.city|your city}}", bare) == "your city"


# --- missing values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "who", "missing"),
    [
        ("Your plan: {{contact.plan}}", contact(), "plan"),
        ("Hi {{contact.name}}", contact(name=""), "name"),  # an empty name counts as missing
        ("In {{contact.address.city}}", contact(address={"street": "Rua A"}), "address.city"),
        ("Code {{contact.code}}", contact(code=""), "code"),
    ],
)
def test_a_missing_value_without_fallback_makes_the_message_unsendable(
    text: str, who: Contact, missing: str
) -> None:
    with pytest.raises(MissingValue) as caught:
        personal(Text(body=text), who)
    # The refusal names the placeholder, so the report says which field to fill in.
    assert caught.value.name == missing
    assert str(caught.value) == f"contact.{missing} has no value and no fallback"


# --- templates ------------------------------------------------------------------------------


def test_a_templates_parameters_are_filled_and_the_rest_kept() -> None:
    template = Template(
        name="order_ready",
        language="pt_PT",
        body=["{{contact.name}}", "{{contact.order.number}}", "{{contact.store|our shop}}"],
    )
    who = contact(order={"number": 1042.0})
    assert personal(template, who) == {
        "type": "template",
        "name": "order_ready",
        "language": "pt_PT",
        "body": ["Ana", "1042", "our shop"],
        "buttons": [],
    }


def test_named_template_parameters_are_filled_too() -> None:
    template = Template(name="welcome", body={"first": "{{contact.name}}", "tier": "gold"})
    assert personal(template, contact())["body"] == {"first": "Ana", "tier": "gold"}


def test_a_template_parameter_without_a_value_is_refused() -> None:
    # The platform refuses an empty template parameter: better to not send at all.
    template = Template(name="renewal", body=["{{contact.renewal_date}}"])
    with pytest.raises(MissingValue) as caught:
        personal(template, contact())
    assert caught.value.name == "renewal_date"


# --- has_placeholders -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (Text(body="Hi {{contact.name}}"), True),
        (Text(body="Hi {{ contact.first_name | there }}"), True),
        (Template(name="t", body=["{{contact.plan}}"]), True),
        (Template(name="t", body={"first": "{{contact.name}}"}), True),
        (Text(body="Hello everyone"), False),
        (Template(name="t", body=["gold"]), False),
        # The flows' other variables are not the contact's: nothing to personalize.
        (Text(body="Order {{order.id}}"), False),
    ],
)
def test_has_placeholders_tells_a_personal_message_from_a_shared_one(
    content: Content, expected: bool
) -> None:
    assert has_placeholders(content) is expected
