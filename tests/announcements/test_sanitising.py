"""An announcement's rendered HTML is safe to put on a page with innerHTML: each payload of a long XSS
list is rendered and its output checked twice, by parsing it (allowlisted tags and attributes only,
links only to http, https, mailto or the app's own paths) and in Debian's Chromium (nothing runs when
every element is hovered, clicked, focused and toggled). Each payload is also rendered with raw HTML
switched on in markdown-it: the sanitiser alone must hold if that switch is ever flipped."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from playwright.sync_api import Browser, Dialog, Page, Route, sync_playwright

from backend.announcements import markdown
from backend.announcements.markdown import render
from tests.announcements.xss_payloads import PAYLOADS

# Pinned here, not read from the renderer: widening the renderer's allowlist has to change this test.
SAFE_TAGS = frozenset(
    {
        "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
        "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
SAFE_ATTRIBUTES = {"a": {"href", "title", "target", "rel"}, "ol": {"start"}}
FORBIDDEN_ATTRIBUTES = frozenset({"style", "src", "srcset", "formaction", "action", "srcdoc", "xlink:href"})
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f-\x9f\s]+")  # what browsers skip or strip in a URL
SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
RAW_SCRIPT_TAG = re.compile(r"<\s*/?\s*script", re.IGNORECASE)

IDS = [name for name, _ in PAYLOADS]
RAW_HTML_ON = MarkdownIt("js-default", {"html": True, "linkify": False, "typographer": False}).disable(
    "image"
)


def rendered(text: str, raw_html: bool) -> str:
    """`render(text)`, with markdown-it passing raw HTML through to the sanitiser if `raw_html`."""
    if not raw_html:
        return render(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(markdown, "_MARKDOWN", RAW_HTML_ON)
        return render(text)


class Collected(HTMLParser):
    """Every tag (with its attributes), every piece of text and anything else (comments,
    declarations, processing instructions) of a fragment of HTML, entities decoded."""

    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str]]]] = []
        self.end_tags: list[str] = []
        self.text: list[str] = []
        self.others: list[str] = []
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, [(name, value or "") for name, value in attrs]))

    def handle_endtag(self, tag: str) -> None:
        self.end_tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.others.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.others.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.others.append(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self.others.append(f"<![{data}]>")


def scheme_of(href: str) -> str | None:
    """The scheme a browser would see in `href` (already entity-decoded once by the parser): decoded
    again, without whitespace and control characters, lowercased; None for a relative URL."""
    match = SCHEME.match(IGNORED_IN_URLS.sub("", html.unescape(href)).lower())
    return match.group(1) if match else None


def assert_safe_link(attributes: dict[str, str], output: str) -> None:
    scheme = scheme_of(attributes.get("href", ""))
    assert scheme is None or scheme in SAFE_SCHEMES, (scheme, output)
    assert "noopener" in attributes.get("rel", "").split(), output
    assert "noreferrer" in attributes.get("rel", "").split(), output
    assert attributes.get("target") == "_blank", output


def assert_safe(output: str) -> None:
    """`output` carries only allowlisted tags and attributes, no handler, no style, no source and no
    link to anything but http, https, mailto or a relative path; `<script>` only as escaped text."""
    collected = Collected(output)
    assert collected.others == [], output
    assert set(collected.end_tags) <= SAFE_TAGS, output
    for tag, attributes in collected.tags:
        assert tag in SAFE_TAGS, (tag, output)
        names = [name for name, _ in attributes]
        assert len(names) == len(set(names)), output  # a repeated attribute: which one wins?
        assert not [name for name in names if name.startswith("on") or name in FORBIDDEN_ATTRIBUTES], output
        assert set(names) <= SAFE_ATTRIBUTES.get(tag, set()), (tag, names, output)
        if tag == "a":
            assert_safe_link(dict(attributes), output)
    assert RAW_SCRIPT_TAG.search(output) is None, output
    if "<script" in "".join(collected.text).lower():
        assert "&lt;script" in output.lower(), output


@pytest.mark.parametrize("raw_html", [False, True], ids=["as-configured", "raw-html-on"])
@pytest.mark.parametrize("payload", [payload for _, payload in PAYLOADS], ids=IDS)
def test_a_payload_renders_to_safe_html(payload: str, raw_html: bool) -> None:
    assert_safe(rendered(payload, raw_html))


def test_the_payload_list_is_long_and_its_ids_unique() -> None:
    assert len(PAYLOADS) >= 60 and len(set(IDS)) == len(IDS)


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "java\tscript:x",
        " &#x6A;avascript:x",
        "JAVA&#10;SCRIPT:x",
        "data:x",
        "vbscript:x",
    ],
)
def test_the_link_check_refuses_what_a_browser_would_run(href: str) -> None:
    with pytest.raises(AssertionError):
        assert_safe(f'<a href="{href}" target="_blank" rel="noopener noreferrer">x</a>')


@pytest.mark.parametrize(
    "unsafe",
    ["<img src=x>", '<p onclick="x">x</p>', '<p style="x">x</p>', "<script>x</script>", "<a href=/x>x</a>"],
)
def test_the_checks_refuse_unsafe_html(unsafe: str) -> None:
    with pytest.raises(AssertionError):
        assert_safe(unsafe)


def test_script_survives_only_as_escaped_text() -> None:
    assert render("<script>alert(1)</script>") == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert render("`<script>`") == "<p><code>&lt;script&gt;</code></p>"
    assert rendered("<script>alert(1)</script>\n\nok", raw_html=True) == "<p>ok</p>"


LINK = 'target="_blank" rel="noopener noreferrer"'
LINK_NO_HREF = 'rel="noopener noreferrer" target="_blank"'  # the href dropped: another host
ORDINARY = [
    ("# Trip\n\n## Kit", "<h1>Trip</h1>\n<h2>Kit</h2>"),
    ("**bold** and *em* and ~~gone~~", "<p><strong>bold</strong> and <em>em</em> and <s>gone</s></p>"),
    ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
    ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'),
    ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
    ("```\nx < 1 && y\n```", "<pre><code>x &lt; 1 &amp;&amp; y\n</code></pre>"),
    ("Use `a<b`", "<p>Use <code>a&lt;b</code></p>"),
    ("line one\nline two", "<p>line one\nline two</p>"),
    ("line one  \nline two", "<p>line one<br>\nline two</p>"),
    ("---", "<hr>"),
    (
        "[site](https://example.org/a?b=1&c=2)",
        f'<p><a href="https://example.org/a?b=1&amp;c=2" {LINK}>site</a></p>',
    ),
    (
        "[mail](mailto:office@school.example)",
        f'<p><a href="mailto:office@school.example" {LINK}>mail</a></p>',
    ),
    ("[card](/report-cards/1)", f'<p><a href="/report-cards/1" {LINK}>card</a></p>'),
    ('[t](https://a.example "Title")', f'<p><a href="https://a.example" title="Title" {LINK}>t</a></p>'),
    ("<https://a.example>", f'<p><a href="https://a.example" {LINK}>https://a.example</a></p>'),
    # tables are off (a short row is filled out to the header's width: a cheap body, a huge page)
    ("| Day | Kit |\n|---|---|\n| Mon | PE |", "<p>| Day | Kit |\n|---|---|\n| Mon | PE |</p>"),
    ("[away](//another.example/x)", f"<p><a {LINK_NO_HREF}>away</a></p>"),
]


@pytest.mark.parametrize(("text", "expected"), ORDINARY, ids=[text[:20] for text, _ in ORDINARY])
def test_ordinary_markdown_still_renders(text: str, expected: str) -> None:
    assert render(text) == expected
    assert_safe(expected)


def test_a_title_with_quotes_stays_inside_its_attribute() -> None:
    output = render('[x](https://a.b "\\" onmouseover=\\"alert(1)")')
    assert output == f'<p><a href="https://a.b" title="&quot; onmouseover=&quot;alert(1)" {LINK}>x</a></p>'


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
INSTALL = """(allowed) => {
  window.__xss = [];
  window.__allowed = allowed;
  const found = window.__found = (what) => window.__xss.push(`${window.__label}: ${what}`);
  for (const name of ['alert', 'confirm', 'prompt', 'print', 'open']) {
    window[name] = (...args) => found(`${name}(${args.join(', ')})`);
  }
  document.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('a') : null;
    if (!link) return;
    const href = link.getAttribute('href') ?? link.getAttribute('xlink:href') ?? '';
    const bare = href.replace(/[\\u0000-\\u0020\\u007f-\\u009f]/g, '').toLowerCase();
    const scheme = /^([a-z][a-z0-9+.-]*):/.exec(bare);
    if (scheme && !['http', 'https', 'mailto'].includes(scheme[1])) found(`link to ${href}`);
    event.preventDefault();  // checked first: a link never navigates the page away
  }, true);
  document.addEventListener('submit', (event) => { found('form submitted'); event.preventDefault(); }, true);
}"""
SHOW = """({label, fragment}) => {
  window.__label = label;
  const feed = document.getElementById('feed');
  feed.innerHTML = fragment;
  const init = {bubbles: true, cancelable: true, composed: true};
  for (const element of feed.querySelectorAll('*')) {
    if (!window.__allowed.includes(element.localName)) window.__found(`<${element.localName}> in the DOM`);
    for (const {name} of element.attributes) {
      if (/^(on|style$|src|formaction$|action$)/i.test(name)) window.__found(`${name}= in the DOM`);
    }
    for (const type of ['mouseover', 'mouseenter', 'mousemove', 'mousedown', 'mouseup', 'dblclick',
                        'contextmenu', 'pointerover', 'pointerenter', 'pointerdown', 'pointerup']) {
      element.dispatchEvent(new MouseEvent(type, init));
    }
    for (const type of ['focus', 'focusin', 'blur', 'toggle', 'beforetoggle', 'animationstart',
                        'animationend', 'animationiteration', 'transitionend', 'load', 'error', 'begin',
                        'keydown', 'keyup', 'input', 'change', 'scroll', 'wheel', 'copy', 'paste']) {
      element.dispatchEvent(new Event(type, init));
    }
    element.focus?.();
    element.click?.();
  }
  document.getElementById('shown').append(...feed.childNodes);  // kept: late load and error events still fire
}"""


class Harness:
    """A blank page in Chromium that records any script an inserted fragment runs: an alert,
    confirm, prompt, print or open; a dialog from any frame; a link to a script; a form submitted;
    an element or attribute outside the allowlist in the live DOM; any request at all."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("dialog", self._dialog)
        page.route("**/*", self._route)
        page.set_content("<html><body><div id=feed></div><div id=shown></div></body></html>")
        page.evaluate(INSTALL, sorted(SAFE_TAGS))

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type} dialog: {dialog.message}")
        dialog.dismiss()

    def _route(self, route: Route) -> None:
        self.requests.append(f"request to {route.request.url}")
        route.abort()

    def show(self, fragments: list[tuple[str, str]], batch: int = 50) -> list[str]:
        """What the `(label, fragment)`s did once inserted with innerHTML and poked."""
        for index, (label, fragment) in enumerate(fragments, start=1):
            self.page.evaluate(SHOW, {"label": label, "fragment": fragment})
            if index % batch == 0:
                self.page.wait_for_timeout(50)
        self.page.wait_for_timeout(50)
        return self.findings()

    def findings(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.__xss")
        return found + self.dialogs + self.requests


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (scripts/test.sh installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def harness(browser: Browser) -> Iterator[Harness]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(5_000)
    yield Harness(page)
    context.close()


def test_no_payload_runs_script_in_chromium(harness: Harness) -> None:
    fragments = [
        (f"{name} ({'raw HTML on' if raw_html else 'as configured'})", rendered(payload, raw_html))
        for name, payload in PAYLOADS
        for raw_html in (False, True)
    ]
    findings = harness.show(fragments)
    assert findings == [], "\n".join(findings)
    assert harness.page.locator("#shown a").count() > 0  # links were there to hover and click


CONTROLS = {  # unsanitised HTML: what the harness must report
    '<img src=x onerror="alert(1)">': "alert(1)",
    '<a href="javascript:alert(1)">x</a>': "link to javascript:",
    '<a href="java&#9;script:alert(1)">x</a>': "link to java\tscript:",
    '<p onmouseover="alert(1)">x</p>': "alert(1)",
    '<details open ontoggle="alert(1)"><summary>x</summary></details>': "alert(1)",
    '<p style="animation-name:k" onanimationstart="alert(1)">x</p>': "alert(1)",
    '<form action="javascript:alert(1)"><button>x</button></form>': "form submitted",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>': "alert dialog: 1",
    '<img src="https://tracker.example/p.gif">': "request to https://tracker.example/p.gif",
}


@pytest.mark.parametrize(("unsafe", "reported"), CONTROLS.items(), ids=list(CONTROLS))
def test_the_browser_harness_catches_unsanitised_html(harness: Harness, unsafe: str, reported: str) -> None:
    """The control: the same harness, given HTML that was never sanitised, does see the script run
    (or the request go), so finding nothing above means something."""
    findings = harness.show([("control", unsafe)])
    for _ in range(20):  # a frame's dialog or a request can come a little later: up to 1 s
        if any(reported in finding for finding in findings):
            break
        harness.page.wait_for_timeout(50)
        findings = harness.findings()
    assert any(reported in finding for finding in findings), findings
    assert_safe(render(unsafe))  # and the renderer makes it safe
