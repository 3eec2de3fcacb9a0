"""HTML bodies as plain text, for ``mailflow preview`` and for checks."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK = {
    "p",
    "div",
    "br",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "blockquote",
    "tr",
    "table",
    "pre",
}
_SKIP = {"style", "script", "head", "title"}


class _Text(HTMLParser):
    """Collects text; whitespace collapses as a browser would, except inside pre-formatted elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.links: list[str] = []
        self.pre: list[str] = []  # open tags that keep their line breaks

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in _SKIP:
            self.skipping += 1
            return
        if tag == "pre" or "pre" in (attributes.get("style") or "").replace(" ", ""):
            self.pre.append(tag)
        if tag in _BLOCK:
            self.parts.append("\n- " if tag == "li" else "\n")
        if tag == "a":
            self.links.append(attributes.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
            return
        if self.pre and self.pre[-1] == tag:
            self.pre.pop()
        if tag in _BLOCK and tag != "li":
            self.parts.append("\n")
        if tag == "a" and self.links:
            href = self.links.pop()
            if href and not href.startswith("mailto:"):
                self.parts.append(f" <{href}>")

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable text: paragraphs and list items on their own lines, links shown in <>."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
