"""The provider's request signature: Twilio's documented example, tampering, repeated
names, and the URL checked with and without its port."""

from __future__ import annotations

import pytest

from threadline.channels.sms.signature import candidates, expected, valid

# Twilio's documented example (its "Webhooks security" page).
TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
]
SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_reproduces_the_documented_example() -> None:
    assert expected(TOKEN, URL, PARAMS) == SIGNATURE
    assert valid(TOKEN, URL, PARAMS, SIGNATURE)


def test_parameter_order_and_form_do_not_matter() -> None:
    assert expected(TOKEN, URL, list(reversed(PARAMS))) == SIGNATURE
    assert expected(TOKEN, URL, dict(PARAMS)) == SIGNATURE


TAMPERED: list[tuple[str, str, str, list[tuple[str, str]], str | None]] = [
    ("other-token", "54321", URL, PARAMS, SIGNATURE),
    ("other-url", TOKEN, "https://mycompany.com/myapp.php?foo=1&bar=3", PARAMS, SIGNATURE),
    ("http-not-https", TOKEN, URL.replace("https", "http", 1), PARAMS, SIGNATURE),
    ("changed-value", TOKEN, URL, [*PARAMS[:-1], ("To", "+18005551213")], SIGNATURE),
    ("added-param", TOKEN, URL, [*PARAMS, ("Body", "hi")], SIGNATURE),
    ("dropped-param", TOKEN, URL, PARAMS[1:], SIGNATURE),
    ("no-header", TOKEN, URL, PARAMS, None),
    ("empty-header", TOKEN, URL, PARAMS, ""),
    ("other-signature", TOKEN, URL, PARAMS, "GvWf1cFY/Q7PnoempGyD5oXAezc="),
    ("empty-token", "", URL, PARAMS, expected("", URL, PARAMS)),
]


@pytest.mark.parametrize(
    ("token", "url", "params", "header"), [t[1:] for t in TAMPERED], ids=[t[0] for t in TAMPERED]
)
def test_tampering_fails(
    token: str, url: str, params: list[tuple[str, str]], header: str | None
) -> None:
    assert not valid(token, url, params, header)


def test_repeated_names_sort_their_values() -> None:
    ordered = [("MediaUrl", "https://a.example/1"), ("MediaUrl", "https://a.example/2")]
    signed = expected(TOKEN, URL, ordered)
    assert expected(TOKEN, URL, list(reversed(ordered))) == signed
    joined = "MediaUrlhttps://a.example/1MediaUrlhttps://a.example/2"
    assert signed == expected(TOKEN, URL + joined, [])


@pytest.mark.parametrize(
    ("signed_url", "checked_url"),
    [
        ("https://mycompany.com:443/myapp.php?foo=1", "https://mycompany.com/myapp.php?foo=1"),
        ("https://mycompany.com/myapp.php?foo=1", "https://mycompany.com:443/myapp.php?foo=1"),
        ("http://mycompany.com:80/hook", "http://mycompany.com/hook"),
        ("http://mycompany.com/hook", "http://mycompany.com:80/hook"),
        ("https://mycompany.com/hook", "https://mycompany.com:8443/hook"),
    ],
)
def test_the_url_is_checked_with_and_without_its_port(signed_url: str, checked_url: str) -> None:
    assert valid(TOKEN, checked_url, PARAMS, expected(TOKEN, signed_url, PARAMS))


def test_a_port_the_url_does_not_have_is_not_accepted() -> None:
    header = expected(TOKEN, "https://mycompany.com:8443/hook", PARAMS)
    assert not valid(TOKEN, "https://mycompany.com/hook", PARAMS, header)


@pytest.mark.parametrize(
    ("url", "forms"),
    [
        ("https://h.io/x", ["https://h.io/x", "https://h.io:443/x"]),
        ("https://h.io:443/x", ["https://h.io:443/x", "https://h.io/x"]),
        ("https://u:p@h.io:8443/x?a=1", ["https://u:p@h.io:8443/x?a=1", "https://u:p@h.io/x?a=1"]),
        ("http://[::1]:8080/x", ["http://[::1]:8080/x", "http://[::1]/x"]),
        ("http://[::1]/x", ["http://[::1]/x", "http://[::1]:80/x"]),
    ],
)
def test_candidate_urls(url: str, forms: list[str]) -> None:
    assert candidates(url) == forms
