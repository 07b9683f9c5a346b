from __future__ import annotations

import dataclasses

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from threadline.contacts.urns import (
    SCHEMES,
    URN,
    InvalidURN,
    parse_urn,
    phone_to_urns,
    region_for_phone,
    timezone_for_phone,
    us_state_for_phone,
)

# --- canonicalisation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "default_region", "expected"),
    [
        # tel: every spelling of one number is the same URN
        ("tel:+12025550123", None, "tel:+12025550123"),
        ("tel:+1 202 555 0123", None, "tel:+12025550123"),
        ("tel:+1 (202) 555-0123", None, "tel:+12025550123"),
        ("tel:+1.202.555.0123", None, "tel:+12025550123"),
        ("  TEL:+1-202-555-0123  ", None, "tel:+12025550123"),
        ("Tel: +1 202 555 0123", None, "tel:+12025550123"),
        ("tel:+55 (11) 99999-0000", None, "tel:+5511999990000"),
        ("tel:+44 20 7946 0958", None, "tel:+442079460958"),
        # default_region applies to numbers written without "+", and only to them
        ("tel:(202) 555-0123", "US", "tel:+12025550123"),
        ("tel:202-555-0123", "us", "tel:+12025550123"),
        ("tel:1 202 555 0123", "US", "tel:+12025550123"),
        ("tel:(11) 99999-0000", "BR", "tel:+5511999990000"),
        ("tel:020 7946 0958", "GB", "tel:+442079460958"),
        ("tel:+5511999990000", "US", "tel:+5511999990000"),
        # whatsapp: phone numbers become E.164 digits without "+"
        ("whatsapp:5511999990000", None, "whatsapp:5511999990000"),
        ("whatsapp:+5511999990000", None, "whatsapp:5511999990000"),
        ("whatsapp:+55 11 99999-0000", None, "whatsapp:5511999990000"),
        ("WHATSAPP: 55 (11) 99999-0000", None, "whatsapp:5511999990000"),
        ("whatsapp:12025550123", None, "whatsapp:12025550123"),
        # ... and ignore default_region: WhatsApp ids always carry their country code
        ("whatsapp:12025550123", "BR", "whatsapp:12025550123"),
        # whatsapp: business-scoped user ids are kept as they are
        ("whatsapp:US.13491208655302741918", None, "whatsapp:US.13491208655302741918"),
        ("WhatsApp:BR.1", None, "whatsapp:BR.1"),
        # messenger / instagram
        ("messenger:9876543210", None, "messenger:9876543210"),
        ("Messenger: 004217 ", None, "messenger:004217"),
        ("instagram:17841400000000000", None, "instagram:17841400000000000"),
        ("INSTAGRAM:1", None, "instagram:1"),
        # apple: everything after the first "apple:" is the opaque id, colons included
        ("apple:urn:mbid:AQAAY3hYzz", None, "apple:urn:mbid:AQAAY3hYzz"),
        ("APPLE:urn:mbid:AQAAY3hYzz", None, "apple:urn:mbid:AQAAY3hYzz"),
        ("apple:a:b::c:", None, "apple:a:b::c:"),
        ("apple:" + "x" * 256, None, "apple:" + "x" * 256),
        # mailto: the domain is lower-cased, the local part kept as written
        ("mailto:ann@example.com", None, "mailto:ann@example.com"),
        ("mailto:ann@EXAMPLE.COM", None, "mailto:ann@example.com"),
        ("MAILTO:ann@Example.Com", None, "mailto:ann@example.com"),
        ("mailto:Ann.Lee@Example.COM", None, "mailto:Ann.Lee@example.com"),
        ("mailto: ANN@example.com ", None, "mailto:ANN@example.com"),
    ],
)
def test_parse_urn_canonical_form(raw: str, default_region: str | None, expected: str) -> None:
    urn = parse_urn(raw, default_region)
    assert str(urn) == expected
    assert parse_urn(expected) == urn


@pytest.mark.parametrize(
    ("raw", "scheme", "path"),
    [
        ("tel:+12025550123", "tel", "+12025550123"),
        ("whatsapp:US.13491208655302741918", "whatsapp", "US.13491208655302741918"),
        ("messenger:12", "messenger", "12"),
        ("apple:urn:mbid:AQAAY", "apple", "urn:mbid:AQAAY"),
    ],
)
def test_parse_urn_fields(raw: str, scheme: str, path: str) -> None:
    assert parse_urn(raw) == URN(scheme, path)


@pytest.mark.parametrize(
    ("urn", "phone"),
    [
        (URN("tel", "+5511999990000"), "+5511999990000"),
        (URN("whatsapp", "5511999990000"), "+5511999990000"),
        (URN("whatsapp", "US.13491208655302741918"), None),
        (URN("instagram", "17841400000000000"), None),
        (URN("messenger", "1:2"), None),
        (URN("mailto", "ann@example.com"), None),
        (URN("apple", "urn:mbid:AQAAY"), None),
    ],
)
def test_phone_e164(urn: URN, phone: str | None) -> None:
    assert urn.phone_e164 == phone


def test_urn_is_frozen_and_hashable() -> None:
    urn = parse_urn("tel:+12025550123")
    with pytest.raises(dataclasses.FrozenInstanceError):
        urn.path = "+15555550124"  # type: ignore[misc]
    assert {urn, parse_urn("tel:+1 202 555 0123")} == {urn}


def test_schemes() -> None:
    assert frozenset({"whatsapp", "messenger", "instagram", "apple", "tel", "mailto"}) == SCHEMES


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "default_region", "fragments"),
    [
        ("", None, ["empty URN"]),
        ("   ", None, ["empty URN"]),
        ("5555550123", None, ["missing scheme"]),
        (":+12025550123", None, ["missing scheme"]),
        ("sms:+12025550123", None, ["unknown scheme 'sms'"]),
        ("viber:123", None, ["unknown scheme", "tel"]),
        ("tel:", None, ["tel", "empty path"]),
        ("whatsapp:   ", None, ["whatsapp", "empty path"]),
        ("mailto:", None, ["mailto", "empty path"]),
        ("tel:+1234", None, ["tel:+1234: not a valid phone number"]),
        ("tel:+1 555 555 012", None, ["not a valid phone number"]),
        ("tel:+15555550123", None, ["not a valid phone number"]),  # 555 is not an area code
        ("tel:+999 1234 5678", None, ["not a valid phone number"]),
        ("tel:5555550123", None, ["not a valid phone number", "no country code"]),
        ("tel:(11) 99999-0000", "US", ["not a valid phone number"]),
        ("tel:+1 800 FLOWERS", None, ["not a valid phone number", "only digits"]),
        ("tel:+1 202 555 0123 ext. 12", None, ["not a valid phone number"]),
        ("tel:+1-202-555-0123;ext=12", None, ["not a valid phone number"]),
        ("whatsapp:+1234", None, ["whatsapp:+1234: not a valid phone number"]),
        ("whatsapp:11999990000", None, ["not a valid phone number"]),
        ("whatsapp:us.13491208655302741918", None, ["business-scoped user id"]),
        ("whatsapp:US.", None, ["business-scoped user id"]),
        ("whatsapp:USA.123", None, ["business-scoped user id"]),
        ("messenger:123:456", None, ["PSID", "numeric"]),
        ("messenger:abc", None, ["numeric"]),
        ("messenger:12 3", None, ["numeric"]),
        ("instagram:abc", None, ["instagram:abc", "numeric"]),
        ("instagram:-1", None, ["numeric"]),
        ("instagram:1.5", None, ["numeric"]),
        ("instagram:١٢٣", None, ["numeric"]),
        ("apple:urn:mbid a", None, ["whitespace"]),
        ("apple:a\tb", None, ["whitespace"]),
        ("apple:a\x00b", None, ["control characters"]),
        ("apple:" + "x" * 257, None, ["too long", "257"]),
        ("mailto:ann", None, ["not a valid email address", "@"]),
        ("mailto:ann@", None, ["not a valid email address"]),
        ("mailto:@example.com", None, ["not a valid email address"]),
        ("mailto:ann@@example.com", None, ["not a valid email address"]),
        ("mailto:ann lee@example.com", None, ["not a valid email address"]),
        ("mailto:ann@localhost", None, ["not a valid email address"]),
        ("mailto:Ann <ann@example.com>", None, ["not a valid email address"]),
    ],
)
def test_parse_urn_errors(raw: str, default_region: str | None, fragments: list[str]) -> None:
    with pytest.raises(InvalidURN) as info:
        parse_urn(raw, default_region)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message


def test_invalid_urn_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown scheme"):
        parse_urn("fax:+12025550123")


@pytest.mark.parametrize("region", ["XX", "USA", ""])
def test_unknown_default_region_is_rejected(region: str) -> None:
    with pytest.raises(ValueError, match="default_region"):
        parse_urn("tel:+12025550123", region)


# --- phone_to_urns --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "default_region", "tel", "whatsapp"),
    [
        ("+55 11 99999-0000", None, "tel:+5511999990000", "whatsapp:5511999990000"),
        ("(11) 99999-0000", "BR", "tel:+5511999990000", "whatsapp:5511999990000"),
        (" +1 (202) 555-0123 ", None, "tel:+12025550123", "whatsapp:12025550123"),
        ("202.555.0123", "US", "tel:+12025550123", "whatsapp:12025550123"),
    ],
)
def test_phone_to_urns(raw: str, default_region: str | None, tel: str, whatsapp: str) -> None:
    assert phone_to_urns(raw, default_region) == (parse_urn(tel), parse_urn(whatsapp))


@pytest.mark.parametrize(
    ("raw", "default_region"),
    [("+1234", None), ("555 555 0123", None), ("", None), ("+1 555 CALL NOW", None)],
)
def test_phone_to_urns_invalid(raw: str, default_region: str | None) -> None:
    with pytest.raises(InvalidURN, match="not a valid phone number"):
        phone_to_urns(raw, default_region)


# --- region / time zone / US state ----------------------------------------------------------


@pytest.mark.parametrize(
    ("e164", "region", "zone"),
    [
        ("+5511999990000", "BR", "America/Sao_Paulo"),
        ("+442079460958", "GB", "Europe/London"),
        ("+13055550123", "US", "America/New_York"),
        ("+14055550123", "US", "America/Chicago"),
        ("+14165550123", "CA", "America/Toronto"),
        ("+4930123456", "DE", "Europe/Berlin"),
        ("+80012345678", None, None),  # international freephone: no region, no zone
        ("+1234", None, None),
        ("not a number", None, None),
        ("", None, None),
    ],
)
def test_region_and_timezone(e164: str, region: str | None, zone: str | None) -> None:
    assert region_for_phone(e164) == region
    assert timezone_for_phone(e164) == zone


@pytest.mark.parametrize(
    ("e164", "state"),
    [
        ("+13055550123", "FL"),
        ("+17865550123", "FL"),
        ("+19045550123", "FL"),
        ("+16455550123", "FL"),
        ("+14055550123", "OK"),
        ("+19185550123", "OK"),
        ("+15725550123", "OK"),
        ("+12125550123", "NY"),
        ("+17185550123", "NY"),
        ("+12135550123", "CA"),
        ("+15125550123", "TX"),
        ("+12065550123", "WA"),
        ("+14105550123", "MD"),
        ("+13075550123", "WY"),
        ("+12025550123", "DC"),
        ("+14165550123", None),  # Toronto: +1, but Canada
        ("+16045550123", None),  # Vancouver
        ("+17875550123", None),  # Puerto Rico has its own region code
        ("+18005550123", None),  # toll-free: no state
        ("+5511999990000", None),
        ("+442079460958", None),
        ("+1234", None),
        ("garbage", None),
    ],
)
def test_us_state_for_phone(e164: str, state: str | None) -> None:
    assert us_state_for_phone(e164) == state


def test_every_shipped_area_code_is_a_us_number() -> None:
    from threadline.contacts.urns import _us_area_codes

    codes = _us_area_codes()
    for code in ["239", "305", "321", "324", "352", "386", "407", "448", "561", "645", "656"]:
        assert codes[code] == "FL"
    for code in ["727", "728", "754", "772", "786", "813", "850", "863", "904", "941", "954"]:
        assert codes[code] == "FL"
    for code in ["405", "539", "572", "580", "918"]:
        assert codes[code] == "OK"
    for code, state in codes.items():
        assert len(state) == 2 and state.isupper()
        number = f"+1{code}2345678"
        assert region_for_phone(number) == "US", code
        assert us_state_for_phone(number) == state


# --- property: parsing a canonical URN gives it back unchanged ------------------------------


def _random_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flip else c.lower() for c, flip in zip(text, flips, strict=True))


@st.composite
def phone_urns(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
    kind = draw(st.sampled_from([PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE]))
    number = phonenumbers.example_number_for_type(region, kind)
    if number is None:
        number = phonenumbers.example_number(region)
    if number is None:
        return draw(st.sampled_from(["tel:+12025550123", "whatsapp:5511999990000"]))
    # Vary the subscriber digits: the result may or may not be a valid number.
    national = str(number.national_number)
    tail = draw(st.integers(0, min(4, len(national) - 1)))
    if tail:
        digits = draw(st.text("0123456789", min_size=tail, max_size=tail))
        number.national_number = int(national[:-tail] + digits)
    style = draw(st.sampled_from([PhoneNumberFormat.E164, PhoneNumberFormat.INTERNATIONAL]))
    text = phonenumbers.format_number(number, style)
    scheme = draw(st.sampled_from(["tel", "whatsapp"]))
    if scheme == "whatsapp" and draw(st.booleans()):
        text = text.removeprefix("+")
    return f"{_random_case(draw, scheme)}:{text}"


APPLE_MAX = 256
_ids = st.from_regex(r"[0-9]{1,20}", fullmatch=True)
_opaque = st.text(st.characters(exclude_categories=("Z", "C")), min_size=1, max_size=APPLE_MAX)

urn_candidates = st.one_of(
    phone_urns(),
    st.from_regex(r"whatsapp:[A-Z]{2}\.[0-9]{1,25}", fullmatch=True),
    st.builds(lambda a: f"messenger:{a}", _ids),
    st.builds(lambda a: f"instagram:{a}", _ids),
    st.builds(lambda a: f"apple:{a}", _opaque),
    st.builds(lambda a: f"mailto:{a}", st.emails()),
    st.builds(lambda s, p: f"{s}:{p}", st.sampled_from(sorted(SCHEMES)), st.text(max_size=40)),
)


@given(urn_candidates)
@example("apple:urn:mbid:AQAAY")
@example("mailto:Ann@EXAMPLE.com")
@example("tel:+39 06 1234 5678")
def test_parse_urn_is_idempotent(raw: str) -> None:
    try:
        urn = parse_urn(raw)
    except InvalidURN:
        return
    assert urn.scheme in SCHEMES
    again = parse_urn(str(urn))
    assert again == urn
    assert str(again) == str(urn)
    if urn.scheme == "apple":
        assert len(urn.path) <= APPLE_MAX
