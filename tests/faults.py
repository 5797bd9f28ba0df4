"""A fault-injection web for tests: one replay server, one misbehaviour per path.

`build_faults(root)` writes four states (`s1`..`s4`) of real article pages from
tests/fixtures/pages for `crawler.demo.replay.ReplayServer`, and returns the real URL of each
fault. `s1` serves every article as it was cited; each fault then misbehaves in `s2` and
goes on as its `Fault.plan` says in `s3` and `s4` (the good page back, the fault again, an
edit after it), so crawling s1, s2, s3, s4 in turn shows what the store made of it:

| fault | s2 | s3, s4 |
|---|---|---|
| `soft_error` | 200 "Sorry, something went wrong" page, site template | the article; s4 an edit |
| `cut_short` | the body cut before its last paragraphs, no Content-Length | the article |
| `teaser` | the first 3/8 of the article's paragraphs | the article |
| `consent` | 200 consent page ("We value your privacy") | the article |
| `login` | 200 sign-in wall | the article |
| `trimmed` | the 3/8 teaser | the teaser again (a real trim: confirmed) |
| `revert` | an edit | the article again (A -> B -> A); s4 another edit |
| `edited` | an edit | the edit |
| `to_home` | 302 to the site's root | the same |
| `to_section` | 301 from `/politics/2026/05/07/slug/` to `/politics/` | the same |
| `to_login`, `to_subscribe` | 302 to a sign-in or subscribe page | the same |
| `to_consent`, `to_other_host` | 302 to a consent host, or another site | the same |
| `moved` | 301 `/2026/05/07/moved-story/` -> `/moved-story/`, the article there | the same |
| `stuck_etag` | an edit under the very same ETag (304 to every conditional request) | the same |
| `rebaseline` | an edit (the test marks the baseline as made by an older extractor) | the same |
| `decoding` | the same windows-1252 bytes re-rendered, declared UTF-8 | the same |
"""

from __future__ import annotations

import gzip
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crawler.extract.extraction import extract_article, normalise
from tests.helpers import FIXTURES

HOST = "faults.example"
OTHER_HOST = "other.example"
CONSENT_HOST = "consent.faults.example"
STATES = ("s1", "s2", "s3", "s4")
PAGES = FIXTURES / "pages"
EDIT_SENTENCE = "Officials said on Tuesday that 57 people had been evacuated from the area."
SECOND_EDIT = "The governor declared a state of emergency in four counties on Wednesday."


@dataclass
class Fault:
    """One path of the fault web: what it serves in each state."""

    path: str
    bodies: dict[str, bytes]
    """State -> body served at `path` (a state left out serves s1's)."""
    routes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """State -> replay route for `path` (a state left out has none)."""

    @property
    def url(self) -> str:
        return f"https://{HOST}{self.path}"


def page(relative: str) -> bytes:
    """A real saved page, decompressed."""
    return gzip.decompress((PAGES / relative).read_bytes())


def paragraph_spans(body: bytes) -> list[tuple[int, int]]:
    """Byte spans of the `<p>` elements that are paragraphs of the extracted article."""
    paragraphs = set(extract_article(body, f"https://{HOST}/a").paragraphs)
    spans = []
    for match in re.finditer(rb"<p[\s>].*?</p>", body, re.S):
        text = re.sub(r"<[^>]+>", "", match[0].decode("utf-8", "replace"))
        if normalise(html.unescape(text)) in paragraphs:
            spans.append(match.span())
    return spans


def add_after_first_paragraph(body: bytes, sentence: str) -> bytes:
    """An editor's addition: a new paragraph after the article's first one."""
    end = paragraph_spans(body)[0][1]
    return body[:end] + f"<p>{sentence}</p>".encode() + body[end:]


def keep_paragraphs(body: bytes, keep: int) -> bytes:
    """The page with only the article's first `keep` paragraphs (a teaser)."""
    for start, end in reversed(paragraph_spans(body)[keep:]):
        body = body[:start] + body[end:]
    return body


def cut_before_last_paragraphs(body: bytes, lost: int = 2) -> bytes:
    """The body as a connection closed early leaves it: cut inside the article."""
    return body[: paragraph_spans(body)[-lost][0]]


def wall_page(body: bytes, title: str, heading: str, text: str) -> bytes:
    """The site's own template with the article replaced by an error, consent or sign-in
    box: the page a CMS or a wall serves with a 200."""
    spans = paragraph_spans(body)
    for start, end in reversed(spans[1:]):
        body = body[:start] + body[end:]
    start, end = spans[0]
    box = f"<h1>{heading}</h1><p>{text}</p>".encode()
    body = body[:start] + box + body[end:]
    body = re.sub(
        rb"<title>.*?</title>", f"<title>{title}</title>".encode(), body, count=1, flags=re.S
    )
    body = re.sub(rb"<h1[^>]*>.*?</h1>", f"<h1>{heading}</h1>".encode(), body, count=1, flags=re.S)
    return re.sub(rb'(property="og:title" content=")[^"]*', rb"\1" + title.encode(), body)


def faults() -> dict[str, Fault]:
    """Every fault, by name."""
    tornadoes = page("washingtonpost/2024-04-26_tornadoes-central-us.fundus.html.gz")
    workers = page("washingtonpost/2020-07-08_federal-workers-returning.htmldate.html.gz")
    taipei = page("taipeitimes/TaipeiTimes_2024_10_15.html.gz")
    edited = add_after_first_paragraph(tornadoes, EDIT_SENTENCE)
    teaser = keep_paragraphs(tornadoes, len(paragraph_spans(tornadoes)) * 3 // 8)
    soft_error = wall_page(
        workers,
        "Sorry, something went wrong",
        "Sorry, something went wrong",
        "We are having trouble loading this page. Please try again in a few minutes.",
    )
    consent = wall_page(
        workers,
        "Before you continue",
        "We value your privacy",
        "We and our partners use cookies to store and access information on your device. "
        "Accept all or manage your choices.",
    )
    login = wall_page(
        workers,
        "Sign in to continue reading",
        "Sign in",
        "Subscribers can read this story. Sign in or subscribe for full access.",
    )
    latin = _windows_1252(page("hoy/hoy.com-daran.html.gz"))
    redirect = {"redirect_status": 302}
    back_then_edit = {"s4": add_after_first_paragraph(workers, EDIT_SENTENCE)}
    return {
        "soft_error": Fault(
            "/news/soft-error", {"s1": workers, "s2": soft_error, **back_then_edit}
        ),
        "cut_short": Fault(
            "/news/cut-short",
            {"s1": tornadoes, "s2": cut_before_last_paragraphs(tornadoes)},
            {"s2": {"no_length": True}},
        ),
        "teaser": Fault("/news/teaser", {"s1": tornadoes, "s2": teaser}),
        "consent": Fault("/news/consent", {"s1": workers, "s2": consent}),
        "login": Fault("/news/login", {"s1": workers, "s2": login}),
        "trimmed": Fault("/news/trimmed", _from("s2", tornadoes, teaser)),
        "revert": Fault(
            "/news/revert",
            {
                "s1": tornadoes,
                "s2": edited,
                "s4": add_after_first_paragraph(tornadoes, SECOND_EDIT),
            },
        ),
        "edited": Fault("/news/edited", _from("s2", tornadoes, edited)),
        "to_home": Fault(
            "/news/to-home", {"s1": taipei}, _routes({"redirect": f"https://{HOST}/", **redirect})
        ),
        "to_section": Fault(
            "/politics/2026/05/07/section-story/",
            {"s1": taipei},
            _routes({"redirect": f"https://{HOST}/politics/"}),
        ),
        "to_login": Fault(
            "/news/to-login",
            {"s1": taipei},
            _routes({"redirect": f"https://{HOST}/login/", **redirect}),
        ),
        "to_subscribe": Fault(
            "/news/to-subscribe",
            {"s1": taipei},
            _routes({"redirect": f"https://{HOST}/subscribe", **redirect}),
        ),
        "to_consent": Fault(
            "/news/to-consent",
            {"s1": taipei},
            _routes({"redirect": f"https://{CONSENT_HOST}/?continue=/news/to-consent", **redirect}),
        ),
        "to_other_host": Fault(
            "/news/to-other-host",
            {"s1": taipei},
            _routes({"redirect": f"https://{OTHER_HOST}/news/story", **redirect}),
        ),
        "moved": Fault(
            "/2026/05/07/moved-story/",
            {"s1": workers},
            _routes({"redirect": f"https://{HOST}/moved-story/"}),
        ),
        "stuck_etag": Fault(
            "/news/stuck-etag",
            _from("s2", taipei, add_after_first_paragraph(taipei, EDIT_SENTENCE)),
            {state: {"etag": '"stuck-1"', "validators": "etag"} for state in STATES},
        ),
        "rebaseline": Fault("/news/rebaseline", _from("s2", workers, back_then_edit["s4"])),
        "decoding": Fault(
            "/news/decoding",
            _from("s2", latin, latin.replace(b"</body>", b"<!-- re-rendered --></body>")),
            {
                "s1": {"charset": "windows-1252"},
                **{state: {"charset": "utf-8"} for state in STATES[1:]},
            },
        ),
    }


def _from(state: str, before: bytes, after: bytes) -> dict[str, bytes]:
    """`before` until `state`, `after` from it on."""
    index = STATES.index(state)
    return {name: before if i < index else after for i, name in enumerate(STATES)}


def _routes(route: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The same route from s2 on."""
    return {state: route for state in STATES[1:]}


def _windows_1252(body: bytes) -> bytes:
    """A UTF-8 page re-encoded as windows-1252 (its meta charset left saying UTF-8: the
    HTTP header decides)."""
    return body.decode("utf-8").encode("cp1252", errors="xmlcharrefreplace")


#: Pages the redirects lead to (served in every state).
_TARGETS = {
    (
        HOST,
        "index.html",
    ): b"<html><head><title>Home</title></head><body><h1>Home</h1></body></html>",
    (HOST, "politics/index.html"): b"<html><body><h1>Politics</h1></body></html>",
    (HOST, "login/index.html"): b"<html><head><title>Sign in</title></head><body>"
    b"<h1>Sign in</h1><form><input name=email></form></body></html>",
    (HOST, "subscribe.html"): b"<html><head><title>Subscribe</title></head><body>"
    b"<h1>Subscribe for full access</h1></body></html>",
    (CONSENT_HOST, "index.html"): b"<html><head><title>Before you continue</title></head>"
    b"<body><h1>We value your privacy</h1><button>Accept all</button></body></html>",
}


def build_faults(root: Path) -> dict[str, Fault]:
    """Write the fault web's states under `root`; return the faults by name."""
    found = faults()
    targets = dict(_TARGETS)
    targets[(HOST, "moved-story/index.html")] = found["moved"].bodies["s1"]
    targets[(OTHER_HOST, "news/story.html")] = page("cna/cna-001.html.gz")
    for state in STATES:
        routes: dict[str, dict[str, Any]] = {}
        for fault in found.values():
            body = fault.bodies.get(state, fault.bodies["s1"])
            relative = fault.path.lstrip("/")
            relative = relative + "index.html" if relative.endswith("/") else relative + ".html"
            _write(root / state / HOST / relative, body)
            if state in fault.routes:
                routes[f"{HOST}{fault.path}"] = fault.routes[state]
        for (host, relative), body in targets.items():
            _write(root / state / host / relative, body)
        (root / state / "routes.yaml").write_text(yaml.safe_dump(routes), encoding="utf-8")
    return found


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
