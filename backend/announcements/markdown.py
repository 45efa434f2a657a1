"""An announcement's Markdown as the HTML every reader gets: CommonMark with tables and strikethrough
(markdown-it-py, raw HTML off), then sanitised with nh3 against an allowlist, so what the web app
puts on the page can carry no script, no event handler, no style and no image (a tracking pixel).
Links keep http, https, mailto and the app's own paths, open in a new tab with rel="noopener
noreferrer"."""

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
_MARKDOWN.disable("image")  # written as text ("![plan](...)"), never fetched from a reader's browser


def render(markdown: str) -> str:
    """Safe HTML for `markdown` (the one place announcements' HTML is made)."""
    return nh3.clean(
        _MARKDOWN.render(markdown),
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    ).strip()
