"""What a person wrote in a reply, without what they answered: the quoted history below
"On … wrote:" (or Outlook's "Original Message" block), the lines quoted with ">", and the
signature after "-- " (RFC 3676 §4.3). Flows and keywords read this text, so "2" or "STOP"
on top of a quoted marketing email is read as "2" or "STOP".

HTML-only mail is turned into text first; a <blockquote> is quoted history there."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# The attribution line mail clients put above the quote, in the languages most seen.
_OPENER = re.compile(r"^\s*(On|Em|El|Le|Am|Il|Op|W dniu)\s")
_ATTRIBUTION = re.compile(
    r"^\s*(On|Em|El|Le|Am|Il|Op|W dniu)\s.{0,300}"
    r"(wrote|escreveu|escribió|a écrit|schrieb|ha scritto|schreef|napisał)\s*:\s*$"
)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.I)
_OUTLOOK_RULE = re.compile(r"^\s*_{10,}\s*$")
_HEADER_LINE = re.compile(r"^\s*\*?(From|Sent|Date|To|Subject|Cc)\s*:", re.IGNORECASE)


def reply_text(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if line in ("-- ", "--"):
            break  # the signature
        if _starts_history(lines, i):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return _tidy(kept)


def _starts_history(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _ORIGINAL.match(line):
        return True
    # Attributions are wrapped by some clients: "On Tue, 10 Mar 2026, Shop <a@b>\nwrote:".
    if _OPENER.match(line):
        for end in range(i, min(i + 3, len(lines))):
            if _ATTRIBUTION.match(" ".join(part.strip() for part in lines[i : end + 1])):
                return True
    # Outlook: a rule or a From: line, then the original's headers.
    start = i + 1 if _OUTLOOK_RULE.match(line) else i
    block = lines[start : start + 5]
    if block and _HEADER_LINE.match(block[0]) and block[0].lstrip("* ").lower().startswith("from"):
        named = {found.group(1).lower() for b in block if (found := _HEADER_LINE.match(b))}
        return len(named & {"sent", "date", "to", "subject"}) >= 2
    return False


def _tidy(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue  # no leading or doubled blank lines
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


_BLOCKS = {
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table",
}  # fmt: skip
_HIDDEN = {"style", "script", "head", "title", "blockquote"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BLOCKS and not self._hidden:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS and tag != "br" and not self._hidden:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_text(page: str) -> str:
    """The words of an HTML part, one block a line; quoted history (<blockquote>) left out."""
    parser = _Text()
    parser.feed(page)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    return _tidy(lines)
