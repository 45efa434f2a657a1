"""An announcement's Markdown as the HTML every reader gets: CommonMark with strikethrough
(markdown-it-py, raw HTML off), then sanitised with nh3 against an allowlist, so what the web app
puts on the page can carry no script, no event handler, no style and no image (a tracking pixel).
Links keep http, https, mailto and the app's own paths (not `//another.host`), open in a new tab
with rel="noopener noreferrer".

Two Markdown features cost far more than the text they are written in, so they are left out:
tables (each short row is filled out to the header's width: kilobytes of text became megabytes of
HTML) and, past MAX_BRACKETS, link brackets (each unmatched `[` is scanned again to the end)."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

TAGS = frozenset(
    {
        "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
        "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})

# "js-default": raw HTML is escaped as text, links with javascript:/vbscript:/data: are refused.
_MARKDOWN = MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})
_MARKDOWN.disable(["image", "table"])  # an image would be fetched from every reader's browser
MAX_BRACKETS = 500  # `[`: more than 250 links is not an announcement; each costs a scan


def _own_or_absolute(tag: str, attribute: str, value: str) -> str | None:
    """nh3's last word on an attribute: a link to `//another.host/...` (no scheme) is dropped."""
    if attribute == "href" and value.lstrip().replace("\\", "/").startswith("//"):
        return None
    return value


def render(markdown: str) -> str:
    """Safe HTML for `markdown` (the one place announcements' HTML is made)."""
    return nh3.clean(
        _MARKDOWN.render(markdown),
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        attribute_filter=_own_or_absolute,
        strip_comments=True,
    ).strip()
