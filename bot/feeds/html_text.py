"""HTML fragment to plain text, for feed titles and summaries.

Contract: `html_to_text(fragment)` returns one line of plain text:
- tags removed; the content of script, style, template, noscript, iframe, object and svg
  elements dropped entirely (it is code or markup, never prose);
- character and entity references decoded (`&amp;` -> `&`, `&#8217;` -> `'`);
- block-level boundaries (`<p>`, `<br>`, `<li>`, ...) become spaces so words never glue;
- control characters removed, every run of whitespace collapsed to one space, ends stripped.

The output is plain text, NOT safe markup: a decoded `&lt;script&gt;` is the text `<script>`.
Escaping for Slack mrkdwn is the formatter's job.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_DROP_CONTENT = frozenset({"script", "style", "template", "noscript", "iframe", "object", "svg"})
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
# C0 and C1 controls other than whitespace; whitespace is collapsed separately.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._dropping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_CONTENT:
            self._dropping.append(tag)
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:  # <br/>: a self-closed element never opens a dropped region
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self._dropping and tag == self._dropping[-1]:
            self._dropping.pop()
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: tags stripped, entities decoded, whitespace collapsed."""
    if "<" not in fragment and "&" not in fragment:
        return _collapse(fragment)
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    return _collapse("".join(collector.parts))


def _collapse(text: str) -> str:
    return " ".join(_CONTROL.sub("", text).split())
