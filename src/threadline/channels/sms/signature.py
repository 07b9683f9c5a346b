"""Checking that a form-encoded callback really comes from the provider (`X-Twilio-Signature`).

The algorithm, as Twilio documents it for POSTed forms:

1. Start from the full URL the provider requested, scheme to query string, exactly as it
   was configured (the `StatusCallback` we sent, or the number's messaging webhook).
2. Sort the POST parameters by name (plain, case-sensitive code-point order). Where a name
   repeats, its values are sorted too. Append each name immediately followed by its value,
   with no separators, to the URL.
3. HMAC-SHA1 that UTF-8 string with the account's auth token as the key; base64 the digest.
   The header carries that value.

Twilio may sign the URL with or without the port (`https://host:443/…` or `https://host/…`),
depending on how the request reached it, so a check accepts either form: the URL as given,
the URL with its port removed, and the URL with the scheme's default port (443 / 80) added.

JSON-bodied webhooks (signed on the URL with a `bodySHA256` query parameter) are not used by
SMS and are not handled here. Comparisons are constant-time."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import SplitResult, urlsplit, urlunsplit

from threadline.kit.crypto import constant_time_equals

SIGNATURE_HEADER = "X-Twilio-Signature"
_DEFAULT_PORTS = {"https": "443", "http": "80"}

Params = Sequence[tuple[str, str]] | Mapping[str, str]


def _pairs(params: Params) -> list[tuple[str, str]]:
    items: Iterable[tuple[str, str]] = params.items() if isinstance(params, Mapping) else params
    return sorted(items)


def expected(auth_token: str, url: str, params: Params) -> str:
    """The signature the provider sends for this URL and these POST parameters."""
    text = url + "".join(name + value for name, value in _pairs(params))
    digest = hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _with_port(parts: SplitResult, port: str | None) -> str:
    """The URL with its port replaced (None: without one); user info is kept."""
    userinfo, _, hostport = parts.netloc.rpartition("@")
    host = _host(hostport)
    netloc = f"{host}:{port}" if port else host
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


def _host(hostport: str) -> str:
    """`host:port` without the port (an IPv6 literal keeps its brackets and colons)."""
    head, colon, tail = hostport.rpartition(":")
    if colon and tail.isdigit() and not hostport.endswith("]"):
        return head
    return hostport


def candidates(url: str) -> list[str]:
    """The URL as given, without its port and with the default port, duplicates dropped."""
    parts = urlsplit(url)
    forms = [url, _with_port(parts, None)]
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    if default and parts.port is None:
        forms.append(_with_port(parts, default))
    return list(dict.fromkeys(forms))


def valid(auth_token: str, url: str, params: Params, header: str | None) -> bool:
    """Whether the header is the provider's signature of this request."""
    if not header or not auth_token:
        return False
    matches = [
        constant_time_equals(expected(auth_token, form, params), header) for form in candidates(url)
    ]
    return any(matches)
