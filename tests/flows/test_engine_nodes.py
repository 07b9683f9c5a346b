"""The flow engine, node by node: what the bot says (and how each channel shows it), where the
conversation goes next and what it saves, for every node type and every way a wait ends."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from threadline.channels import messages as m
from threadline.channels.kinds import Channel
from threadline.flows.engine import FALLBACK_NODE, new_state, step
from threadline.flows.loader import Bundle, Flow, compile_bundle
from threadline.flows.state import (
    Action,
    AddInterests,
    AddScore,
    CallWebhook,
    ChangeTags,
    Close,
    ContactView,
    Ended,
    Event,
    HandBack,
    OpenTicket,
    RecordCsat,
    Reply,
    Send,
    SetFields,
    Start,
    Timeout,
    WebhookDone,
)
from threadline.kit.clock import FrozenClock

T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # a Tuesday, 15:00 UTC

CATALOG: list[dict[str, Any]] = [
    {
        "id": "trail-1",
        "title": "Trail Runner",
        "price": 120,
        "tags": ["running", "outdoor"],
        "attributes": {"category": "shoes"},
        "image": "https://cdn.example/trail.jpg",
        "url": "https://shop.example/trail",
    },
    {
        "id": "road-2",
        "title": "Road Racer",
        "price": 90,
        "tags": ["running"],
        "attributes": {"category": "shoes"},
    },
    {
        "id": "walk-3",
        "title": "City Walker",
        "price": 60,
        "tags": ["walking"],
        "attributes": {"category": "shoes"},
    },
    {
        "id": "tee-4",
        "title": "Dry Tee",
        "price": 25,
        "tags": ["running"],
        "attributes": {"category": "shirts"},
    },
]


def compile_flow(
    body: str,
    *,
    catalog: list[dict[str, Any]] | None = None,
    subflows: dict[str, str] | None = None,
) -> Flow:
    text = "format: 1\nflow: test\nname: Test flow\n" + textwrap.dedent(body)
    return compile_bundle(Bundle(main=text, catalog=catalog or [], subflows=subflows or {}))


def body_of(content: m.Content) -> str:
    if isinstance(content, m.Media):
        return content.caption or ""
    body = getattr(content, "body", None)
    assert isinstance(body, str), content
    return body


def sends(actions: list[Action]) -> list[Send]:
    return [a for a in actions if isinstance(a, Send)]


def said(actions: list[Action]) -> list[str]:
    return [body_of(s.content) for s in sends(actions)]


def only(actions: list[Action], kind: type) -> Any:
    found = [a for a in actions if isinstance(a, kind)]
    assert len(found) == 1, actions
    return found[0]


def buttons(content: m.Content) -> list[tuple[str, str]]:
    assert isinstance(content, m.Buttons), content
    return [(b.id, b.title) for b in content.buttons]


def rows(content: m.Content) -> list[tuple[str, str]]:
    assert isinstance(content, m.ListMessage), content
    return [(r.id, r.title) for s in content.sections for r in s.rows]


class Chat:
    """One person talking to one flow, with a clock that moves only when told."""

    def __init__(
        self,
        flow: Flow,
        *,
        channel: Channel = Channel.WHATSAPP,
        contact: ContactView | None = None,
        answers: dict[str, Any] | None = None,
        score: float = 0.0,
        now: datetime = T0,
    ) -> None:
        self.flow = flow
        self.clock = FrozenClock(now)
        self.state = new_state(flow, contact or ContactView(), channel, now)
        if answers or score:
            self.state = replace(self.state, answers=dict(answers or {}), score=score)
        self.actions: list[Action] = []

    def event(self, event: Event) -> list[Action]:
        self.state, self.actions = step(self.flow, self.state, event, self.clock)
        return self.actions

    def start(self, trigger: str = "api", **params: Any) -> list[Action]:
        return self.event(Start(trigger=trigger, params=params))

    def reply(self, text: str) -> list[Action]:
        return self.event(Reply(text=text))

    def tap(self, payload: str, title: str = "") -> list[Action]:
        return self.event(Reply(text=title, payload=payload))

    def time_out(self) -> list[Action]:
        """The runner's timer fires at the wait's deadline."""
        assert self.state.wait is not None
        self.clock.set(self.state.wait.deadline)
        return self.event(Timeout())

    @property
    def last(self) -> m.Content:
        return sends(self.actions)[-1].content

    @property
    def waiting_at(self) -> str | None:
        return self.state.wait.node if self.state.wait else None


# ================================================================ say

SAY_THEN_END = """
start: hello
nodes:
  - id: hello
    type: say
    text: "Hi {{contact.name}}, your order {{params.order}} is on its way."
    next: done
  - id: done
    type: end
"""


def test_say_sends_interpolated_text_then_moves_on() -> None:
    chat = Chat(compile_flow(SAY_THEN_END), contact=ContactView(name="Ana"))
    actions = chat.start(order="A-17")
    assert said(actions) == ["Hi Ana, your order A-17 is on its way."]
    assert sends(actions)[0].node == "hello"
    assert only(actions, Ended).outcome == "resolved"
    assert chat.state.status == "ended"
    assert chat.state.path == ("hello", "done")


def test_say_with_a_missing_placeholder_value_leaves_it_blank() -> None:
    chat = Chat(compile_flow(SAY_THEN_END))
    assert said(chat.start()) == ["Hi , your order  is on its way."]


def test_say_text_with_a_link_asks_for_a_preview() -> None:
    flow = compile_flow(
        """
        start: hello
        nodes:
          - {id: hello, type: say, text: "Track it at https://t.example/1", next: plain}
          - {id: plain, type: say, text: "No link here", next: done}
          - {id: done, type: end}
        """
    )
    first, second = sends(Chat(flow).start())
    assert isinstance(first.content, m.Text) and first.content.preview_url
    assert isinstance(second.content, m.Text) and not second.content.preview_url


def test_say_image_with_text_sends_one_captioned_image() -> None:
    flow = compile_flow(
        """
        start: photo
        nodes:
          - id: photo
            type: say
            text: "Here is your {{params.item}}"
            media: {kind: image, url: "https://cdn.example/{{params.item}}.jpg"}
            next: done
          - {id: done, type: end}
        """
    )
    actions = Chat(flow).start(item="sofa")
    [send] = sends(actions)
    assert send.content == m.Media(
        kind="image", link="https://cdn.example/sofa.jpg", caption="Here is your sofa"
    )


def test_say_audio_cannot_carry_a_caption_so_the_text_follows_it() -> None:
    flow = compile_flow(
        """
        start: voice
        nodes:
          - id: voice
            type: say
            text: Listen to this
            media: {kind: audio, url: "https://cdn.example/hello.ogg"}
            template: {name: voice_note, body: ["{{contact.name}}"]}
            next: done
          - {id: done, type: end}
        """
    )
    first, second = sends(Chat(flow, contact=ContactView(name="Bo")).start())
    assert isinstance(first.content, m.Media) and first.content.caption is None
    assert first.content.kind == "audio"
    assert second.content == m.Text(body="Listen to this")
    # the template stands in for the first message only
    assert first.template is not None and first.template.body == ["Bo"]
    assert second.template is None


def test_say_with_a_call_to_action_sends_a_url_button() -> None:
    flow = compile_flow(
        """
        start: pay
        nodes:
          - id: pay
            type: say
            text: Your invoice is ready.
            cta: {display_text: Pay now, url: "https://pay.example/{{params.invoice}}"}
            next: done
          - {id: done, type: end}
        """
    )
    [send] = sends(Chat(flow).start(invoice="inv-9"))
    assert send.content == m.CtaUrl(
        body="Your invoice is ready.", display_text="Pay now", url="https://pay.example/inv-9"
    )


def test_say_with_media_and_a_call_to_action_sends_the_media_then_the_button() -> None:
    flow = compile_flow(
        """
        start: promo
        nodes:
          - id: promo
            type: say
            text: New season is here
            media: {kind: image, url: "https://cdn.example/new.jpg"}
            cta: {display_text: Shop, url: "https://shop.example"}
            next: done
          - {id: done, type: end}
        """
    )
    first, second = sends(Chat(flow).start())
    assert isinstance(first.content, m.Media) and first.content.caption is None
    assert isinstance(second.content, m.CtaUrl) and second.content.body == "New season is here"


def test_say_media_a_channel_cannot_carry_goes_as_its_link() -> None:
    # Apple Messages for Business declares no media kinds (its attachments are not built):
    # the image is its link, and the flow goes on to the button instead of ending unsent.
    flow = compile_flow(
        """
        start: promo
        nodes:
          - id: promo
            type: say
            text: New season is here
            media: {kind: image, url: "https://cdn.example/new.jpg"}
            cta: {display_text: Shop, url: "https://shop.example"}
            next: photo
          - id: photo
            type: say
            text: "Here it is"
            media: {kind: image, url: "https://cdn.example/it.jpg"}
            next: done
          - {id: done, type: end}
        """
    )
    link, button, captioned = sends(Chat(flow, channel=Channel.APPLE).start())
    assert link.content == m.Text(body="https://cdn.example/new.jpg", preview_url=True)
    assert isinstance(button.content, m.CtaUrl) and button.content.body == "New season is here"
    assert captioned.content == m.Text(
        body="Here it is\n\nhttps://cdn.example/it.jpg", preview_url=True
    )
    # A kind the channel takes stays media: Instagram carries images, not documents.
    document = compile_flow(
        """
        start: doc
        nodes:
          - id: doc
            type: say
            media: {kind: document, url: "https://cdn.example/menu.pdf", filename: menu.pdf}
            next: photo
          - id: photo
            type: say
            media: {kind: image, url: "https://cdn.example/it.jpg"}
            next: done
          - {id: done, type: end}
        """
    )
    pdf, image = sends(Chat(document, channel=Channel.INSTAGRAM).start())
    assert pdf.content == m.Text(body="https://cdn.example/menu.pdf", preview_url=True)
    assert image.content == m.Media(kind="image", link="https://cdn.example/it.jpg")


def test_say_carries_its_template_with_interpolated_values() -> None:
    flow = compile_flow(
        """
        start: remind
        nodes:
          - id: remind
            type: say
            text: "Hi {{contact.name}}, your table is booked for {{params.time}}."
            template:
              name: booking_reminder
              language: pt_BR
              body: ["{{contact.name}}", "{{params.time}}"]
            next: done
          - {id: done, type: end}
        """
    )
    [send] = sends(Chat(flow, contact=ContactView(name="Rui")).start(time="20:00"))
    assert send.template is not None
    assert (send.template.name, send.template.language) == ("booking_reminder", "pt_BR")
    assert send.template.body == ["Rui", "20:00"]
    assert body_of(send.content) == "Hi Rui, your table is booked for 20:00."


# ================================================================ ask: choices

SIZE_ASK = """
start: size
nodes:
  - id: size
    type: ask
    text: Which size?
    save_as: size
    choices:
      - {id: s, title: Small, synonyms: [pequeno, chico]}
      - {id: m, title: Médio}
      - {id: l, title: Large, next: large_note}
    next: confirm
  - {id: confirm, type: end, text: "Size {{answers.size}} it is."}
  - {id: large_note, type: end, text: "Large is out of stock, sorry."}
"""


def test_ask_with_three_choices_shows_reply_buttons_and_waits() -> None:
    chat = Chat(compile_flow(SIZE_ASK))
    actions = chat.start()
    [send] = sends(actions)
    assert send.node == "size"
    assert body_of(send.content) == "Which size?"
    assert buttons(send.content) == [("s", "Small"), ("m", "Médio"), ("l", "Large")]
    assert chat.state.status == "waiting"
    assert chat.state.wait is not None
    assert (chat.state.wait.node, chat.state.wait.kind) == ("size", "ask")


@pytest.mark.parametrize(
    ("text", "payload", "saved"),
    [
        ("", "m", "m"),  # tapped button
        ("Small", "s", "s"),  # tapped button with its title as text
        ("2", None, "m"),  # its number
        ("small", None, "s"),  # its title, any case
        ("  MEDIO!", None, "m"),  # accents and punctuation ignored
        ("pequeño", None, "s"),  # a synonym
        ("Chico", None, "s"),
    ],
)
def test_a_choice_is_recognised_by_tap_number_title_or_synonym(
    text: str, payload: str | None, saved: str
) -> None:
    chat = Chat(compile_flow(SIZE_ASK))
    chat.start()
    actions = chat.event(Reply(text=text, payload=payload))
    assert chat.state.answers == {"size": saved}
    assert said(actions) == [f"Size {saved} it is."]


def test_a_choice_with_its_own_next_goes_there() -> None:
    chat = Chat(compile_flow(SIZE_ASK))
    chat.start()
    assert said(chat.tap("l")) == ["Large is out of stock, sorry."]
    assert chat.state.answers == {"size": "l"}


def test_an_unknown_payload_is_not_taken_as_a_choice() -> None:
    chat = Chat(compile_flow(SIZE_ASK))
    chat.start()
    actions = chat.tap("xl")
    assert chat.state.answers == {}
    assert sends(actions)[0].reprompt
    assert chat.waiting_at == "size"


def test_the_same_ask_is_numbered_text_on_sms_and_read_by_number() -> None:
    chat = Chat(compile_flow(SIZE_ASK), channel=Channel.SMS)
    chat.start()
    assert chat.last == m.Text(
        body="Which size?\n\n1. Small\n2. Médio\n3. Large\n\nReply with a number."
    )
    assert said(chat.reply("3")) == ["Large is out of stock, sorry."]


def _choices_flow(count: int) -> Flow:
    choices = [{"id": f"c{n}", "title": f"Option {n}"} for n in range(1, count + 1)]
    return compile_flow(
        f"""
        start: pick
        nodes:
          - id: pick
            type: ask
            text: Pick one
            list_button: See options
            save_as: picked
            choices: {json.dumps(choices)}
            next: done
          - {{id: done, type: end, text: "You picked {{{{answers.picked}}}}"}}
        """
    )


@pytest.mark.parametrize(
    ("count", "channel", "shape"),
    [
        (2, Channel.WHATSAPP, m.Buttons),
        (3, Channel.WHATSAPP, m.Buttons),
        (7, Channel.WHATSAPP, m.ListMessage),
        (12, Channel.WHATSAPP, m.Text),
        (2, Channel.SMS, m.Text),
        (7, Channel.EMAIL, m.Text),
    ],
)
def test_choices_render_per_channel_and_count(count: int, channel: Channel, shape: type) -> None:
    chat = Chat(_choices_flow(count), channel=channel)
    chat.start()
    content = chat.last
    assert isinstance(content, shape)
    titles = [f"Option {n}" for n in range(1, count + 1)]
    if isinstance(content, m.Buttons):
        assert [t for _i, t in buttons(content)] == titles
    elif isinstance(content, m.ListMessage):
        assert content.button == "See options"
        assert [t for _i, t in rows(content)] == titles
    else:
        numbered = "\n".join(f"{n}. {t}" for n, t in enumerate(titles, start=1))
        assert numbered in body_of(content)
        assert body_of(content).endswith("Reply with a number.")
    # the last option is understood by number on any channel
    assert said(chat.reply(str(count))) == [f"You picked c{count}"]


# ================================================================ ask: open answers


def _ask_flow(expect: str, extra: str = "") -> Flow:
    return compile_flow(
        f"""
        start: q
        nodes:
          - id: q
            type: ask
            text: Your answer please
            expect: {expect}
            save_as: value
            {extra}
            next: done
          - {{id: done, type: end, text: "Got {{{{answers.value}}}}"}}
        """
    )


@pytest.mark.parametrize(
    ("expect", "extra", "reply", "saved", "shown"),
    [
        ("text", "", "  Ana Souza ", "Ana Souza", "Ana Souza"),
        ("email", "", "Ana@example.com", "Ana@example.com", "Ana@example.com"),
        ("email", "", "agent@example.com", "agent@example.com", "agent@example.com"),
        ("phone", "", "+44 20 7946 0958", "+442079460958", "+442079460958"),
        ("number", "", "1,500", 1500, "1500"),
        ("number", "", "2k", 2000, "2000"),
        ("number", "", "just 1 person", 1, "1"),
        ("number", "min: 1\n            max: 10", "10", 10, "10"),
        ("number", "", "12,5", 12.5, "12.5"),
        ("date", "", "25/12", "2026-12-25", "2026-12-25"),
        ("date", "", "tomorrow", "2026-03-11", "2026-03-11"),
        ("date", "", "2026-04-01", "2026-04-01", "2026-04-01"),
        ("yes_no", "", "sim", True, "yes"),
        ("yes_no", "", "Nope", False, "no"),
    ],
)
def test_open_answers_are_read_saved_and_shown(
    expect: str, extra: str, reply: str, saved: object, shown: str
) -> None:
    chat = Chat(_ask_flow(expect, extra))
    chat.start()
    actions = chat.reply(reply)
    assert chat.state.answers == {"value": saved}
    assert said(actions) == [f"Got {shown}"]
    assert chat.state.outcome == "resolved"


@pytest.mark.parametrize(
    ("expect", "extra", "reply"),
    [
        ("text", "", "   "),
        ("email", "", "ana@"),
        ("phone", "", "12345"),
        ("number", "", "lots"),
        ("number", "min: 1\n            max: 10", "0"),
        ("number", "min: 1\n            max: 10", "11"),
        ("date", "", "someday"),
        ("yes_no", "", "maybe"),
    ],
)
def test_answers_that_do_not_fit_are_asked_again(expect: str, extra: str, reply: str) -> None:
    chat = Chat(_ask_flow(expect, extra))
    chat.start()
    actions = chat.reply(reply)
    [send] = sends(actions)
    assert send.reprompt and send.node == "q"
    assert body_of(send.content) == "Sorry, I didn't get that. Your answer please"
    assert chat.state.answers == {}
    assert chat.state.wait is not None and chat.state.wait.misses == 1


def test_phone_without_country_code_uses_the_contacts_region() -> None:
    chat = Chat(_ask_flow("phone"), contact=ContactView(region="GB"))
    chat.start()
    chat.reply("020 7946 0958")
    assert chat.state.answers == {"value": "+442079460958"}


def test_phone_without_country_code_or_region_is_not_understood() -> None:
    chat = Chat(_ask_flow("phone"))
    chat.start()
    assert sends(chat.reply("020 7946 0958"))[0].reprompt


def test_yes_no_shows_yes_and_no_buttons_and_takes_a_tap() -> None:
    chat = Chat(_ask_flow("yes_no"))
    chat.start()
    assert buttons(chat.last) == [("yes", "Yes"), ("no", "No")]
    chat.tap("no", "No")
    assert chat.state.answers == {"value": False}


def test_yes_no_on_sms_is_numbered() -> None:
    chat = Chat(_ask_flow("yes_no"), channel=Channel.SMS)
    chat.start()
    assert "1. Yes\n2. No" in body_of(chat.last)
    chat.reply("1")
    assert chat.state.answers == {"value": True}


def test_an_open_question_sends_plain_text() -> None:
    chat = Chat(_ask_flow("email"))
    chat.start()
    assert chat.last == m.Text(body="Your answer please")


def test_a_saved_answer_is_used_in_later_questions() -> None:
    flow = compile_flow(
        """
        start: name
        nodes:
          - {id: name, type: ask, text: "Your name?", save_as: name, next: email}
          - id: email
            type: ask
            text: "Thanks {{answers.name}}, and your email?"
            expect: email
            save_as: email
            next: done
          - {id: done, type: end, text: "We'll write to {{answers.email}}."}
        """
    )
    chat = Chat(flow)
    chat.start()
    assert said(chat.reply("Ana")) == ["Thanks Ana, and your email?"]
    assert said(chat.reply("ana@example.com")) == ["We'll write to ana@example.com."]
    assert chat.state.answers == {"name": "Ana", "email": "ana@example.com"}


# ================================================================ ask: misses and the fallback


def test_custom_reprompt_text_is_used() -> None:
    chat = Chat(_ask_flow("email", 'reprompt: "That does not look like an email, try again"'))
    chat.start()
    assert said(chat.reply("nope")) == ["That does not look like an email, try again"]


def test_a_choice_reprompt_shows_the_buttons_again() -> None:
    chat = Chat(compile_flow(SIZE_ASK))
    chat.start()
    [send] = sends(chat.reply("purple"))
    assert send.reprompt
    assert body_of(send.content) == "Sorry, I didn't get that. Which size?"
    assert buttons(send.content) == [("s", "Small"), ("m", "Médio"), ("l", "Large")]


def test_after_two_misses_the_bot_honestly_offers_a_person_or_starting_over() -> None:
    chat = Chat(compile_flow(SIZE_ASK))
    chat.start()
    assert sends(chat.reply("purple"))[0].reprompt
    actions = chat.reply("still purple")
    [send] = sends(actions)
    assert send.node == FALLBACK_NODE
    assert body_of(send.content) == (
        "Sorry, I can't help with that here. Would you like to talk to a person, or start over?"
    )
    assert buttons(send.content) == [("human", "Talk to a person"), ("menu", "Start over")]
    assert chat.state.wait is not None and chat.state.wait.kind == "fallback"
    assert chat.state.status == "waiting"


def test_fallback_after_can_be_raised_for_the_whole_flow() -> None:
    chat = Chat(
        compile_flow(
            'fallback: {after: 3, text: "I\'m lost. A person, or the menu?", team: sales}\n'
            + SIZE_ASK
        )
    )
    chat.start()
    assert sends(chat.reply("a"))[0].reprompt
    assert sends(chat.reply("b"))[0].reprompt
    [send] = sends(chat.reply("c"))
    assert send.node == FALLBACK_NODE
    assert body_of(send.content) == "I'm lost. A person, or the menu?"
    actions = chat.tap("human", "Talk to a person")
    assert only(actions, OpenTicket).team == "sales"


@pytest.mark.parametrize(("retries", "reprompts"), [(0, 0), (1, 1), (3, 3)])
def test_retries_sets_how_many_reprompts_come_before_the_fallback(
    retries: int, reprompts: int
) -> None:
    chat = Chat(_ask_flow("number", f"retries: {retries}"))
    chat.start()
    for _ in range(reprompts):
        assert sends(chat.reply("lots"))[0].reprompt
    [send] = sends(chat.reply("lots"))
    assert send.node == FALLBACK_NODE


def test_on_invalid_replaces_the_fallback() -> None:
    flow = compile_flow(
        """
        start: q
        nodes:
          - id: q
            type: ask
            text: Your email?
            expect: email
            retries: 1
            on_invalid: skip
            next: done
          - id: skip
            type: end
            text: "No problem, we'll continue without it."
            outcome: abandoned
          - {id: done, type: end}
        """
    )
    chat = Chat(flow)
    chat.start()
    assert sends(chat.reply("x"))[0].reprompt
    actions = chat.reply("y")
    assert said(actions) == ["No problem, we'll continue without it."]
    assert only(actions, Ended).outcome == "abandoned"


def test_fallback_tapping_talk_to_a_person_hands_off_and_a_hand_back_starts_over() -> None:
    chat = Chat(compile_flow(SIZE_ASK))
    chat.start()
    chat.reply("a")
    chat.reply("b")
    actions = chat.tap("human", "Talk to a person")
    ticket = only(actions, OpenTicket)
    assert ticket.team == "support"
    assert ticket.summary == "The bot could not understand the customer"
    assert chat.state.status == "handoff" and chat.state.wait is None
    actions = chat.event(HandBack())
    assert sends(actions)[0].node == "size"
    assert chat.waiting_at == "size"


def test_fallback_start_over_asks_the_first_question_again() -> None:
    chat = Chat(compile_flow(SIZE_ASK), channel=Channel.SMS)
    chat.start()
    chat.reply("a")
    chat.reply("b")
    assert "1. Talk to a person\n2. Start over" in body_of(chat.last)
    actions = chat.reply("2")
    assert said(actions)[0].startswith("Which size?")
    assert chat.waiting_at == "size"
    assert chat.state.wait is not None and chat.state.wait.misses == 0


def test_fallback_anything_else_goes_to_a_person() -> None:
    chat = Chat(compile_flow(SIZE_ASK))
    chat.start()
    chat.reply("a")
    chat.reply("b")
    actions = chat.reply("what??")
    assert isinstance(only(actions, OpenTicket), OpenTicket)
    assert chat.state.status == "handoff"


def test_misses_are_counted_per_wait() -> None:
    chat = Chat(compile_flow(SIZE_ASK))
    chat.start()
    chat.reply("purple")  # one miss
    chat.reply("menu")  # starts over: a fresh wait
    assert chat.state.wait is not None and chat.state.wait.misses == 0
    assert sends(chat.reply("purple"))[0].reprompt


# ================================================================ escapes at a wait


def test_asking_for_a_human_at_a_question_hands_off_and_resumes_there() -> None:
    chat = Chat(compile_flow(SIZE_ASK))
    chat.start()
    actions = chat.reply("can I talk to a person")
    ticket = only(actions, OpenTicket)
    assert ticket.summary == "Asked for a person at size" and ticket.node == "size"
    assert chat.state.status == "handoff" and chat.state.resume_at == "size"
    actions = chat.event(HandBack())
    assert said(actions) == ["Which size?"]
    assert chat.waiting_at == "size"


def test_human_in_a_free_text_question_is_an_escape_not_an_answer() -> None:
    chat = Chat(_ask_flow("text"))
    chat.start()
    chat.reply("human")
    assert chat.state.status == "handoff"
    assert chat.state.answers == {}


def test_menu_starts_over_and_forgets_the_answers() -> None:
    flow = compile_flow(
        """
        start: name
        nodes:
          - {id: name, type: ask, text: "Your name?", save_as: name, next: email}
          - {id: email, type: ask, text: "Email?", expect: email, save_as: email, next: done}
          - {id: done, type: end}
        """
    )
    chat = Chat(flow)
    chat.start()
    chat.reply("Ana")
    assert said(chat.reply("menu")) == ["Your name?"]
    assert chat.state.answers == {}
    assert chat.waiting_at == "name"


def test_stop_at_a_question_ends_the_session_as_opted_out_without_a_reply() -> None:
    chat = Chat(compile_flow(SIZE_ASK))
    chat.start()
    actions = chat.reply("STOP")
    assert sends(actions) == []
    assert only(actions, Ended) == Ended(outcome="abandoned", reason="opted_out")
    assert (chat.state.status, chat.state.end_reason) == ("ended", "opted_out")
    assert chat.reply("Small") == []  # an ended state ignores everything


# ================================================================ ask: timeouts and expiry


def test_a_wait_has_a_deadline_from_its_timeout_or_the_flows_wait_timeout() -> None:
    flow = compile_flow(
        """
        wait_timeout: 2h
        start: a
        nodes:
          - {id: a, type: ask, text: "First?", next: b}
          - {id: b, type: ask, text: "Second?", timeout: 10m, next: done}
          - {id: done, type: end}
        """
    )
    chat = Chat(flow)
    chat.start()
    assert chat.state.wait is not None
    assert chat.state.wait.deadline == T0 + timedelta(hours=2)
    chat.reply("x")
    assert chat.state.wait is not None
    assert chat.state.wait.deadline == T0 + timedelta(minutes=10)


def test_a_reprompt_gives_the_whole_timeout_again() -> None:
    chat = Chat(_ask_flow("email", "timeout: 10m"))
    chat.start()
    chat.clock.advance(timedelta(minutes=8))
    chat.reply("not an email")
    assert chat.state.wait is not None
    assert chat.state.wait.deadline == T0 + timedelta(minutes=18)
    chat.clock.advance(timedelta(minutes=3))
    assert chat.event(Timeout()) == []  # the first deadline has passed, the new one has not
    assert chat.waiting_at == "q"


TIMEOUT_FLOW = """
start: q
nodes:
  - id: q
    type: ask
    text: Still there?
    timeout: 30m
    on_timeout: nudge
    next: done
  - {id: nudge, type: say, text: "I'll be here when you're back.", next: q2}
  - {id: q2, type: ask, text: "Anything else?", next: done}
  - {id: done, type: end}
"""


def test_a_timer_firing_early_is_ignored() -> None:
    chat = Chat(compile_flow(TIMEOUT_FLOW))
    chat.start()
    before = chat.state
    chat.clock.advance(timedelta(minutes=29))
    assert chat.event(Timeout()) == []
    assert chat.state == before


def test_timeout_goes_to_on_timeout() -> None:
    chat = Chat(compile_flow(TIMEOUT_FLOW))
    chat.start()
    actions = chat.time_out()
    assert said(actions) == ["I'll be here when you're back.", "Anything else?"]
    assert chat.waiting_at == "q2"
    assert chat.state.wait is not None
    assert chat.state.wait.deadline == T0 + timedelta(minutes=30) + timedelta(hours=1)


def test_timeout_without_on_timeout_ends_the_session_abandoned() -> None:
    chat = Chat(compile_flow(TIMEOUT_FLOW))
    chat.start()
    chat.time_out()
    actions = chat.time_out()
    assert sends(actions) == []
    assert only(actions, Ended) == Ended(outcome="abandoned", reason="timeout")
    assert chat.state.status == "ended" and chat.state.wait is None


def test_every_deadline_stops_at_the_sessions_expiry() -> None:
    flow = compile_flow(
        """
        expires_after: 20m
        start: q
        nodes:
          - {id: q, type: ask, text: "Still there?", timeout: 1h, on_timeout: q, next: done}
          - {id: done, type: end}
        """
    )
    chat = Chat(flow)
    chat.start()
    assert chat.state.expires_at == T0 + timedelta(minutes=20)
    assert chat.state.wait is not None
    assert chat.state.wait.deadline == chat.state.expires_at
    actions = chat.time_out()
    # on_timeout would ask again, but the state is over
    assert sends(actions) == []
    assert only(actions, Ended) == Ended(outcome="abandoned", reason="expired")


# ================================================================ branch


BRANCH = """
start: check
nodes:
  - id: check
    type: branch
    cases:
      - when: {condition}
        next: hit
    default: miss
  - {{id: hit, type: end, text: hit}}
  - {{id: miss, type: end, text: miss}}
"""


def _branch(condition: dict[str, Any], **setup: Any) -> str:
    flow = compile_flow(BRANCH.format(condition=json.dumps(condition)))
    contact = ContactView(
        fields=setup.get("fields", {}),
        tags=frozenset(setup.get("tags", ())),
        interests=frozenset(setup.get("interests", ())),
        timezone=setup.get("tz"),
        events=tuple(setup.get("events", ())),
    )
    chat = Chat(
        flow,
        channel=setup.get("channel", Channel.WHATSAPP),
        contact=contact,
        answers=setup.get("answers"),
        score=setup.get("score", 0.0),
    )
    [text] = said(chat.start(trigger=setup.get("trigger", "api")))
    return text


@pytest.mark.parametrize(
    ("condition", "setup", "expected"),
    [
        ({"answer": "plan", "equals": "pro"}, {"answers": {"plan": "Pro"}}, "hit"),
        ({"answer": "plan", "equals": "pro"}, {"answers": {"plan": "basic"}}, "miss"),
        ({"answer": "plan", "equals": "pro"}, {}, "miss"),
        ({"answer": "plan", "in": ["pro", "team"]}, {"answers": {"plan": "team"}}, "hit"),
        ({"answer": "plan", "in": ["pro", "team"]}, {"answers": {"plan": "solo"}}, "miss"),
        ({"answer": "budget", "gte": 1000}, {"answers": {"budget": 1500}}, "hit"),
        ({"answer": "budget", "gte": 1000}, {"answers": {"budget": 999}}, "miss"),
        ({"answer": "budget", "lte": 1000}, {"answers": {"budget": 1000}}, "hit"),
        ({"answer": "budget", "lte": 1000}, {"answers": {"budget": "lots"}}, "miss"),
        ({"answer": "budget", "gte": 10, "lte": 20}, {"answers": {"budget": 15}}, "hit"),
        ({"answer": "budget", "gte": 10, "lte": 20}, {"answers": {"budget": 25}}, "miss"),
        ({"answer": "note", "contains": "urgent"}, {"answers": {"note": "Very URGENT!"}}, "hit"),
        ({"answer": "note", "contains": "urgent"}, {"answers": {"note": "whenever"}}, "miss"),
        ({"answer": "email", "exists": True}, {"answers": {"email": "a@b.co"}}, "hit"),
        ({"answer": "email", "exists": True}, {}, "miss"),
        ({"answer": "email", "exists": False}, {}, "hit"),
        ({"answer": "newsletter", "equals": True}, {"answers": {"newsletter": True}}, "hit"),
        ({"answer": "newsletter", "equals": True}, {"answers": {"newsletter": False}}, "miss"),
        (
            {"answer": "order.status", "equals": "shipped"},
            {"answers": {"order": {"status": "shipped"}}},
            "hit",
        ),
        ({"field": "city", "equals": "São Paulo"}, {"fields": {"city": "sao paulo"}}, "hit"),
        ({"field": "city", "equals": "São Paulo"}, {"fields": {"city": "Rio"}}, "miss"),
        ({"field": "age", "gte": 18}, {"fields": {"age": "21"}}, "hit"),
        ({"tag": "vip"}, {"tags": ["vip"]}, "hit"),
        ({"tag": "vip"}, {"tags": ["new"]}, "miss"),
        ({"interest": "running"}, {"interests": ["running"]}, "hit"),
        ({"interest": "running"}, {"interests": []}, "miss"),
        ({"channel": "sms"}, {"channel": Channel.SMS}, "hit"),
        ({"channel": "sms"}, {"channel": Channel.WHATSAPP}, "miss"),
        ({"trigger": "keyword"}, {"trigger": "keyword"}, "hit"),
        ({"trigger": "keyword"}, {"trigger": "api"}, "miss"),
        # 15:00 UTC is 12:00 in São Paulo, midnight in Tokyo
        ({"hours": [9, 18]}, {"tz": "America/Sao_Paulo"}, "hit"),
        ({"hours": [9, 18]}, {"tz": "Asia/Tokyo"}, "miss"),
        ({"hours": [9, 15]}, {}, "miss"),  # to-hour is excluded; no timezone means UTC
        ({"hours": [15, 16]}, {}, "hit"),
        ({"hours": [22, 6]}, {"tz": "Asia/Tokyo"}, "hit"),  # overnight range
        ({"hours": [22, 6]}, {"tz": "America/Sao_Paulo"}, "miss"),
        ({"hours": [9, 18]}, {"tz": "Not/AZone"}, "hit"),  # unknown zone: UTC
        # Tuesday 15:00 UTC is already Wednesday 05:00 in Kiritimati (UTC+14)
        ({"weekdays": ["tue"]}, {}, "hit"),
        ({"weekdays": ["tue"]}, {"tz": "Pacific/Kiritimati"}, "miss"),
        ({"weekdays": ["wed", "thu"]}, {"tz": "Pacific/Kiritimati"}, "hit"),
        ({"weekdays": ["sat", "sun"]}, {}, "miss"),
        (
            {"event": "cart_abandoned", "within": "7d"},
            {"events": [("cart_abandoned", T0 - timedelta(days=2))]},
            "hit",
        ),
        (
            {"event": "cart_abandoned", "within": "1d"},
            {"events": [("cart_abandoned", T0 - timedelta(days=2))]},
            "miss",
        ),
        (
            {"event": "cart_abandoned"},  # within 30 days by default
            {"events": [("purchase", T0 - timedelta(days=1))]},
            "miss",
        ),
        ({"event": "cart_abandoned"}, {"events": [("cart_abandoned", T0)]}, "hit"),
        ({"score_at_least": 50}, {"score": 50.0}, "hit"),
        ({"score_at_least": 50}, {"score": 49.5}, "miss"),
        ({"all": [{"tag": "vip"}, {"channel": "whatsapp"}]}, {"tags": ["vip"]}, "hit"),
        (
            {"all": [{"tag": "vip"}, {"channel": "whatsapp"}]},
            {"tags": ["vip"], "channel": Channel.SMS},
            "miss",
        ),
        ({"any": [{"tag": "vip"}, {"interest": "golf"}]}, {"interests": ["golf"]}, "hit"),
        ({"any": [{"tag": "vip"}, {"interest": "golf"}]}, {}, "miss"),
        ({"not": {"tag": "vip"}}, {}, "hit"),
        ({"not": {"tag": "vip"}}, {"tags": ["vip"]}, "miss"),
    ],
)
def test_branch_conditions(condition: dict[str, Any], setup: dict[str, Any], expected: str) -> None:
    assert _branch(condition, **setup) == expected


def test_branch_takes_the_first_case_that_holds() -> None:
    flow = compile_flow(
        """
        start: route
        nodes:
          - id: route
            type: branch
            cases:
              - {when: {tag: vip}, next: vip}
              - {when: {channel: whatsapp}, next: wa}
            default: other
          - {id: vip, type: end, text: vip}
          - {id: wa, type: end, text: wa}
          - {id: other, type: end, text: other}
        """
    )
    assert said(Chat(flow, contact=ContactView(tags=frozenset({"vip"}))).start()) == ["vip"]
    assert said(Chat(flow).start()) == ["wa"]
    assert said(Chat(flow, channel=Channel.SMS).start()) == ["other"]


def test_branch_on_an_answer_given_in_the_conversation() -> None:
    flow = compile_flow(
        """
        start: budget
        nodes:
          - id: budget
            type: ask
            text: "Your budget?"
            expect: number
            save_as: budget
            next: route
          - id: route
            type: branch
            cases: [{when: {answer: budget, gte: 1000}, next: sales}]
            default: self_serve
          - {id: sales, type: end, text: "A specialist will call you.", outcome: lead_captured}
          - {id: self_serve, type: end, text: "Our starter plan fits you."}
        """
    )
    big, small = Chat(flow), Chat(flow)
    big.start()
    small.start()
    assert said(big.reply("2k")) == ["A specialist will call you."]
    assert big.state.outcome == "lead_captured"
    assert said(small.reply("$500")) == ["Our starter plan fits you."]


# ================================================================ set

SET_FLOW = """
start: budget
nodes:
  - {id: budget, type: ask, text: "Budget?", expect: number, save_as: budget, next: save}
  - id: save
    type: set
    fields:
      budget: "{{answers.budget}}"
      note: "Budget {{answers.budget}} via {{params.source}}"
      stage: lead
    tags: {add: [lead, hot], remove: [cold]}
    interests: [pricing]
    score: 10
    answers: {tier: "{{answers.budget}}", label: gold}
    next: again
  - {id: again, type: set, score: 5.5, next: route}
  - id: route
    type: branch
    cases:
      - when:
          all:
            - {tag: hot}
            - {not: {tag: cold}}
            - {interest: pricing}
            - {field: stage, equals: lead}
            - {field: budget, gte: 1000}
            - {score_at_least: 15.5}
            - {answer: label, equals: gold}
            - {answer: tier, gte: 1000}
        next: hot
    default: cold
  - {id: hot, type: end, text: "hot lead"}
  - {id: cold, type: end, text: "cold lead"}
"""


def test_set_writes_typed_fields_tags_interests_score_and_answers() -> None:
    chat = Chat(compile_flow(SET_FLOW), contact=ContactView(tags=frozenset({"cold", "old"})))
    chat.start(source="ad")
    actions = chat.reply("1,500")
    assert only(actions, SetFields).values == {
        "budget": 1500,  # a whole placeholder keeps the number
        "note": "Budget 1500 via ad",
        "stage": "lead",
    }
    assert only(actions, ChangeTags) == ChangeTags(add=("lead", "hot"), remove=("cold",))
    assert only(actions, AddInterests) == AddInterests(interests=("pricing",))
    assert [a for a in actions if isinstance(a, AddScore)] == [
        AddScore(delta=10, total=10),
        AddScore(delta=5.5, total=15.5),
    ]
    contact = chat.state.contact
    assert contact.tags == {"lead", "hot", "old"}
    assert contact.interests == {"pricing"}
    assert contact.fields["budget"] == 1500
    assert chat.state.score == 15.5
    assert chat.state.answers == {"budget": 1500, "tier": 1500, "label": "gold"}
    assert said(actions) == ["hot lead"]  # the branch after saw all of it


def test_set_with_a_low_budget_takes_the_other_way() -> None:
    chat = Chat(compile_flow(SET_FLOW))
    chat.start(source="ad")
    assert said(chat.reply("300")) == ["cold lead"]


def test_set_with_nothing_to_change_sends_no_actions() -> None:
    flow = compile_flow(
        """
        start: noop
        nodes:
          - {id: noop, type: set, next: done}
          - {id: done, type: end}
        """
    )
    actions = Chat(flow).start()
    assert actions == [Ended(outcome="resolved", reason=None)]


# ================================================================ webhook

WEBHOOK_FLOW = """
start: ask_email
nodes:
  - id: ask_email
    type: ask
    text: Your email?
    expect: email
    save_as: email
    next: lookup
  - id: lookup
    type: webhook
    method: POST
    url: "https://shop.example/orders?email={{answers.email}}"
    headers: {Authorization: "Bearer {{params.token}}"}
    body: {email: "{{answers.email}}", count: "{{params.count}}", note: "from {{contact.name}}"}
    timeout: 10s
    save_as: order
    map: {status: "$.order.status", first: "$.order.items.0.name", missing: "$.nope.x"}
    next: tell
    on_failure: sorry
  - id: tell
    type: end
    text: "Your order is {{answers.order.status}} ({{answers.order.first}})."
  - id: sorry
    type: end
    outcome: abandoned
    text: "Sorry, I can't look that up right now."
"""


def _at_webhook(flow_text: str = WEBHOOK_FLOW) -> tuple[Chat, list[Action]]:
    chat = Chat(compile_flow(flow_text), contact=ContactView(name="Ana"))
    chat.start(token="t0k", count=3)
    return chat, chat.reply("ana@example.com")


def test_webhook_calls_the_url_with_interpolated_values_and_waits() -> None:
    chat, actions = _at_webhook()
    assert only(actions, CallWebhook) == CallWebhook(
        node="lookup",
        method="POST",
        url="https://shop.example/orders?email=ana@example.com",
        headers={"Authorization": "Bearer t0k"},
        body={"email": "ana@example.com", "count": 3, "note": "from Ana"},
        timeout_seconds=10.0,
    )
    assert sends(actions) == []
    assert chat.state.status == "webhook"
    assert chat.state.wait is not None and chat.state.wait.kind == "webhook"
    assert chat.state.wait.deadline == T0 + timedelta(seconds=40)  # timeout + grace


def test_replies_while_the_webhook_runs_are_not_answered() -> None:
    chat, _ = _at_webhook()
    before = chat.state
    assert chat.reply("hello?") == []
    assert chat.state == before


def test_webhook_success_maps_the_answer_and_continues() -> None:
    chat, _ = _at_webhook()
    body = {"order": {"status": "shipped", "items": [{"name": "Sofa"}]}}
    actions = chat.event(WebhookDone(status=200, body=body))
    assert chat.state.answers["order"] == {"status": "shipped", "first": "Sofa", "missing": None}
    assert said(actions) == ["Your order is shipped (Sofa)."]
    assert chat.state.outcome == "resolved"


def test_webhook_without_a_map_saves_the_whole_answer() -> None:
    flow_text = WEBHOOK_FLOW.replace(
        '    map: {status: "$.order.status", first: "$.order.items.0.name", missing: "$.nope.x"}\n',
        "",
    )
    chat, _ = _at_webhook(flow_text)
    chat.event(WebhookDone(status=201, body={"status": "packed", "first": "Lamp"}))
    assert chat.state.answers["order"] == {"status": "packed", "first": "Lamp"}


@pytest.mark.parametrize(
    ("done", "error"),
    [
        (WebhookDone(status=500, body={"error": "boom"}), "HTTP 500"),
        (WebhookDone(status=404), "HTTP 404"),
        (WebhookDone(status=302), "HTTP 302"),
        (WebhookDone(status=None, error="connection refused"), "connection refused"),
    ],
)
def test_webhook_failure_goes_to_on_failure(done: WebhookDone, error: str) -> None:
    chat, _ = _at_webhook()
    actions = chat.event(done)
    assert said(actions) == ["Sorry, I can't look that up right now."]
    assert "order" not in chat.state.answers
    assert chat.state.answers["order_error"] == error
    assert chat.state.outcome == "abandoned"


def test_webhook_timeout_goes_to_on_failure() -> None:
    chat, _ = _at_webhook()
    chat.clock.advance(timedelta(seconds=39))
    assert chat.event(Timeout()) == []  # still inside timeout + grace
    assert said(chat.time_out()) == ["Sorry, I can't look that up right now."]


def test_a_late_webhook_answer_after_the_timeout_is_ignored() -> None:
    chat, _ = _at_webhook()
    chat.time_out()
    assert chat.event(WebhookDone(status=200, body={})) == []


# ================================================================ recommend


def _recommend(node: str, answers: dict[str, Any] | None = None, **chat: Any) -> Chat:
    flow = compile_flow(
        f"""
        start: pick
        nodes:
          - {node}
          - {{id: chosen, type: end, text: "Great choice: {{{{answers.choice}}}}"}}
          - {{id: after, type: end, text: done}}
          - {{id: nothing, type: end, text: "Nothing fits, sorry."}}
        """,
        catalog=CATALOG,
    )
    c = Chat(flow, answers=answers, **chat)
    c.start()
    return c


def test_recommend_lists_matching_products_and_moves_on() -> None:
    chat = _recommend(
        "{id: pick, type: recommend, text: 'For you:', where: {category: '{{answers.cat}}'},"
        " tags_any: [running], price_max: '{{answers.budget}}', on_empty: nothing, next: after}",
        answers={"cat": "Shoes", "budget": "100"},
    )
    assert said(chat.actions) == ["For you:\n\n1. Road Racer — USD 90", "done"]
    assert chat.state.answers["pick_shown"] == ["road-2"]


def test_recommend_without_filters_shows_the_catalog_up_to_its_limit_with_links() -> None:
    chat = _recommend(
        "{id: pick, type: recommend, text: 'Top picks:', limit: 2, on_empty: nothing, next: after}"
    )
    [listing, _done] = said(chat.actions)
    assert listing == (
        "Top picks:\n\n1. Trail Runner — USD 120\n   https://shop.example/trail\n"
        "2. Road Racer — USD 90"
    )


def test_recommend_any_in_a_filter_means_no_filter() -> None:
    chat = _recommend(
        "{id: pick, type: recommend, text: 'All:', where: {category: '{{answers.cat}}'},"
        " on_empty: nothing, next: after}",
        answers={"cat": "any"},
    )
    assert chat.state.answers["pick_shown"] == ["trail-1", "road-2", "walk-3", "tee-4"]


def test_recommend_cards_send_the_text_then_one_message_per_product() -> None:
    chat = _recommend(
        "{id: pick, type: recommend, text: 'Running gear:', style: cards, tags_any: [running],"
        " where: {category: shoes}, on_empty: nothing, next: after}"
    )
    intro, trail, road, done = sends(chat.actions)
    assert intro.content == m.Text(body="Running gear:")
    assert trail.content == m.Media(
        kind="image",
        link="https://cdn.example/trail.jpg",
        caption="*Trail Runner* — USD 120\nhttps://shop.example/trail",
    )
    assert road.content == m.Text(body="*Road Racer* — USD 90")
    assert body_of(done.content) == "done"


def test_recommend_cards_on_a_channel_without_media_send_the_image_link() -> None:
    chat = _recommend(
        "{id: pick, type: recommend, text: 'Running gear:', style: cards, tags_any: [running],"
        " where: {category: shoes}, on_empty: nothing, next: after}",
        channel=Channel.APPLE,
    )
    _, trail, _, _ = sends(chat.actions)
    assert trail.content == m.Text(
        body="*Trail Runner* — USD 120\nhttps://shop.example/trail\n\n"
        "https://cdn.example/trail.jpg",
        preview_url=True,
    )


def test_recommend_with_save_as_waits_for_a_pick() -> None:
    chat = _recommend(
        "{id: pick, type: recommend, text: 'Which one?', where: {category: shoes},"
        " save_as: choice, on_empty: nothing, next: chosen}"
    )
    assert chat.state.wait is not None and chat.state.wait.kind == "recommend"
    assert body_of(chat.last) == "Which one?"
    assert buttons(chat.last) == [
        ("trail-1", "Trail Runner"),
        ("road-2", "Road Racer"),
        ("walk-3", "City Walker"),
    ]
    assert said(chat.tap("road-2", "Road Racer")) == ["Great choice: road-2"]
    assert chat.state.answers["choice"] == "road-2"


def test_recommend_pick_by_number_or_title_and_reprompt() -> None:
    node = (
        "{id: pick, type: recommend, text: 'Which one?', save_as: choice,"
        " on_empty: nothing, next: chosen}"
    )
    chat = _recommend(node)
    rows_shown = rows(chat.last)  # four products: a list, prices as descriptions
    assert [r[0] for r in rows_shown] == ["trail-1", "road-2", "walk-3", "tee-4"]
    assert isinstance(chat.last, m.ListMessage) and chat.last.button == "See products"
    assert chat.last.sections[0].rows[1].description == "USD 90"
    [again] = sends(chat.reply("the blue one"))
    assert again.reprompt and body_of(again.content) == "Please pick one of these:"
    assert said(chat.reply("4")) == ["Great choice: tee-4"]
    other = _recommend(node)
    assert said(other.reply("city walker")) == ["Great choice: walk-3"]


def test_recommend_cards_with_save_as_send_cards_then_the_question() -> None:
    chat = _recommend(
        "{id: pick, type: recommend, text: 'Which one?', style: cards, where: {category: shirts},"
        " save_as: choice, on_empty: nothing, next: chosen}",
        channel=Channel.SMS,
    )
    card, question = sends(chat.actions)
    assert body_of(card.content) == "*Dry Tee* — USD 25"
    assert body_of(question.content) == "Which one?\n\n1. Dry Tee\n\nReply with a number."
    assert said(chat.reply("1")) == ["Great choice: tee-4"]


def test_recommend_with_nothing_matching_goes_to_on_empty() -> None:
    chat = _recommend(
        "{id: pick, type: recommend, text: 'Hats:', where: {category: hats}, save_as: choice,"
        " on_empty: nothing, next: chosen}"
    )
    assert said(chat.actions) == ["Nothing fits, sorry."]
    assert chat.state.answers["pick_shown"] == []


def test_recommend_price_max_as_a_number() -> None:
    chat = _recommend(
        "{id: pick, type: recommend, text: 'Cheap:', price_max: 60, on_empty: nothing, next: after}"
    )
    assert chat.state.answers["pick_shown"] == ["walk-3", "tee-4"]


def test_recommend_wait_times_out_to_on_timeout() -> None:
    chat = _recommend(
        "{id: pick, type: recommend, text: 'Which one?', save_as: choice, timeout: 5m,"
        " on_timeout: after, on_empty: nothing, next: chosen}"
    )
    assert chat.state.wait is not None
    assert chat.state.wait.deadline == T0 + timedelta(minutes=5)
    assert said(chat.time_out()) == ["done"]


# ================================================================ handoff

HANDOFF_FLOW = """
start: menu
nodes:
  - id: menu
    type: ask
    text: How can we help?
    choices:
      - {id: billing, title: Billing, next: to_agent}
      - {id: other, title: Something else, next: bye}
  - id: to_agent
    type: handoff
    team: billing
    summary: "Billing question from {{contact.name}}"
    text: "One moment, {{contact.name}}: a billing specialist will reply here."
    next: after_agent
  - {id: after_agent, type: csat, next: bye}
  - {id: bye, type: end, text: Bye!}
"""


def _handed_off() -> tuple[Chat, list[Action]]:
    chat = Chat(compile_flow(HANDOFF_FLOW), contact=ContactView(name="Ana"))
    chat.start()
    return chat, chat.tap("billing", "Billing")


def test_handoff_says_so_and_opens_a_ticket() -> None:
    chat, actions = _handed_off()
    assert said(actions) == ["One moment, Ana: a billing specialist will reply here."]
    assert only(actions, OpenTicket) == OpenTicket(
        node="to_agent", team="billing", summary="Billing question from Ana"
    )
    assert chat.state.status == "handoff"
    assert chat.state.wait is None
    assert chat.state.resume_at == "after_agent"


def test_during_a_handoff_the_bot_stays_quiet() -> None:
    chat, _ = _handed_off()
    before = chat.state
    for event in (Reply(text="hello?"), Reply(text="menu"), Reply(text="human"), Timeout()):
        chat.clock.advance(timedelta(days=2))
        assert chat.event(event) == []
        assert chat.state == before


def test_hand_back_resumes_at_the_handoffs_next() -> None:
    chat, _ = _handed_off()
    actions = chat.event(HandBack())
    assert sends(actions)[0].node == "after_agent"
    assert chat.state.status == "waiting" and chat.waiting_at == "after_agent"


def test_close_ends_the_session_as_handed_off() -> None:
    chat, _ = _handed_off()
    actions = chat.event(Close())
    assert actions == [Ended(outcome="handed_off", reason="agent_resolved")]
    assert chat.state.outcome == "handed_off" and chat.state.status == "ended"


def test_hand_back_from_a_handoff_without_next_ends_handed_off() -> None:
    flow = compile_flow(
        """
        start: agent
        nodes:
          - {id: agent, type: handoff, text: null}
        """
    )
    chat = Chat(flow)
    actions = chat.start()
    assert sends(actions) == []  # no text: the ticket is opened quietly
    assert only(actions, OpenTicket).summary == "Customer asked for a person"
    assert chat.event(HandBack()) == [Ended(outcome="handed_off", reason="agent_resolved")]


def test_agent_events_outside_a_handoff_change_nothing() -> None:
    chat = Chat(compile_flow(HANDOFF_FLOW))
    chat.start()
    before = chat.state
    assert chat.event(HandBack()) == []
    assert chat.event(Close()) == []
    assert chat.state == before


# ================================================================ csat

CSAT_FLOW = """
start: rate
nodes:
  - {id: rate, type: csat, timeout: 1h, next: thanks}
  - {id: thanks, type: end, text: "Thanks for your feedback!"}
"""


def test_csat_shows_five_ratings_as_a_list_on_whatsapp() -> None:
    chat = Chat(compile_flow(CSAT_FLOW))
    chat.start()
    assert body_of(chat.last) == "How would you rate this conversation, from 1 (bad) to 5 (great)?"
    assert isinstance(chat.last, m.ListMessage) and chat.last.button == "Rate"
    assert [i for i, _t in rows(chat.last)] == ["1", "2", "3", "4", "5"]
    assert chat.state.wait is not None and chat.state.wait.kind == "csat"


@pytest.mark.parametrize(
    ("text", "payload", "score"),
    [
        ("4", None, 4),
        ("", "2", 2),
        ("5 - Excellent", "5", 5),
        ("great", None, 5),
        ("Terrible", None, 1),
        ("three", None, 3),
        ("⭐⭐⭐⭐", None, 4),
        ("⭐", None, 1),
    ],
)
def test_csat_is_read_by_number_word_tap_or_stars(
    text: str, payload: str | None, score: int
) -> None:
    chat = Chat(compile_flow(CSAT_FLOW))
    chat.start()
    actions = chat.event(Reply(text=text, payload=payload))
    assert only(actions, RecordCsat) == RecordCsat(node="rate", score=score)
    assert chat.state.answers == {"csat": score}
    assert said(actions) == ["Thanks for your feedback!"]


def test_csat_out_of_range_is_asked_again() -> None:
    chat = Chat(compile_flow(CSAT_FLOW), channel=Channel.SMS)
    chat.start()
    [send] = sends(chat.reply("7"))
    assert send.reprompt
    assert body_of(send.content).startswith("Please answer with a number from 1 to 5.")
    assert "5. 5 - Excellent" in body_of(send.content)


def test_no_answer_to_a_csat_moves_on_without_a_score() -> None:
    chat = Chat(compile_flow(CSAT_FLOW))
    chat.start()
    actions = chat.time_out()
    assert not any(isinstance(a, RecordCsat) for a in actions)
    assert said(actions) == ["Thanks for your feedback!"]
    assert chat.state.outcome == "resolved"


# ================================================================ goto, subflow, end


def test_goto_jumps_back_to_ask_again() -> None:
    flow = compile_flow(
        """
        start: q
        nodes:
          - {id: q, type: ask, text: "Order number?", save_as: order, next: more}
          - {id: more, type: ask, text: "Another one?", expect: yes_no, save_as: more, next: check}
          - id: check
            type: branch
            cases: [{when: {answer: more, equals: true}, next: again}]
            default: done
          - {id: again, type: goto, target: q}
          - {id: done, type: end, text: "Last: {{answers.order}}"}
        """
    )
    chat = Chat(flow)
    chat.start()
    chat.reply("A1")
    assert said(chat.reply("yes")) == ["Order number?"]
    assert chat.state.path[-2:] == ("again", "q")
    chat.reply("A2")
    assert said(chat.reply("no")) == ["Last: A2"]


DETAILS = """
format: 1
flow: details
name: Contact details
start: ask_email
nodes:
  - {id: ask_email, type: ask, text: "Email?", expect: email, save_as: email, next: thanks}
  - {id: thanks, type: end, text: "Saved {{answers.email}}."}
"""


def test_subflow_is_inlined_and_its_end_returns_to_the_caller() -> None:
    flow = compile_flow(
        """
        start: hello
        nodes:
          - {id: hello, type: say, text: Hi, next: collect}
          - {id: collect, type: subflow, flow: details, next: bye}
          - {id: bye, type: end, text: "Bye {{answers.email}}", outcome: lead_captured}
        """,
        subflows={"details": DETAILS},
    )
    assert "collect.ask_email" in flow.nodes and "collect.thanks" in flow.nodes
    chat = Chat(flow)
    assert said(chat.start()) == ["Hi", "Email?"]
    assert chat.waiting_at == "collect.ask_email"
    actions = chat.reply("ana@example.com")
    assert said(actions) == ["Saved ana@example.com.", "Bye ana@example.com"]
    assert only(actions, Ended).outcome == "lead_captured"


def test_subflow_without_next_ends_where_the_subflow_ends() -> None:
    flow = compile_flow(
        """
        start: collect
        nodes:
          - {id: collect, type: subflow, flow: details}
        """,
        subflows={"details": DETAILS},
    )
    chat = Chat(flow)
    chat.start()
    actions = chat.reply("ana@example.com")
    assert said(actions) == ["Saved ana@example.com."]
    assert chat.state.status == "ended"


def test_end_says_its_text_and_records_the_outcome() -> None:
    flow = compile_flow(
        """
        start: name
        nodes:
          - {id: name, type: ask, text: "Name?", save_as: name, next: done}
          - {id: done, type: end, outcome: lead_captured, text: "Thanks {{answers.name}}!"}
        """
    )
    chat = Chat(flow)
    chat.start()
    chat.clock.advance(timedelta(minutes=3))
    actions = chat.reply("Ana")
    assert actions == [
        Send(node="done", content=m.Text(body="Thanks Ana!")),
        Ended(outcome="lead_captured", reason=None),
    ]
    assert chat.state.outcome == "lead_captured"
    assert chat.state.ended_at == T0 + timedelta(minutes=3)
    assert chat.state.wait is None
    assert chat.reply("hello again") == []
