"""Delivery: Apprise to a local HTTP receiver, and the Atom renderer read back by feedparser."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import feedparser
import pytest

from crawler.reports.atom import AtomRenderer
from crawler.reports.notify import notify, parse_urls
from crawler.reports.render import ChangeEntry, Report, VersionRef, render


class Receiver:
    """A tiny HTTP endpoint on 127.0.0.1 that keeps every POSTed body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(self.rfile.read(length))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def test_notify_posts_the_markdown_digest(receiver: Receiver) -> None:
    body = "# Digest\n\n- **ABC Color** changed the headline: *Peña visita Taiwán*"
    assert notify(receiver.url, "watchdesk: 1 significant", body) is True
    assert len(receiver.bodies) == 1
    message = json.loads(receiver.bodies[0])
    assert message["title"] == "watchdesk: 1 significant"
    assert "Peña visita Taiwán" in message["message"]


def test_notify_never_raises_on_bad_or_dead_urls(receiver: Receiver) -> None:
    dead = receiver.url.replace(str(receiver.server.server_address[1]), "9")  # port 9: discard
    assert notify(dead, "t", "b") is False
    assert notify("nonsense://what", "t", "b") is False
    assert notify("", "t", "b") is False
    # One good URL among bad ones still delivers, but the result says not everything went.
    assert notify(f"nonsense://what, {receiver.url}", "t", "b") is False
    assert len(receiver.bodies) == 1


def test_parse_urls_splits_on_spaces_and_commas() -> None:
    assert parse_urls("json://a/ ,mailto://b@c  slack://d") == [
        "json://a/",
        "mailto://b@c",
        "slack://d",
    ]
    assert parse_urls(["json://a/ json://b/"]) == ["json://a/", "json://b/"]
    assert parse_urls(None) == []


def _report(summary: str, headline: str) -> Report:
    change = ChangeEntry(
        url="https://www.abc.com.py/politica/2026/05/31/data-center/",
        outlet="ABC Color",
        kind="headline",
        kinds=("headline", "edit"),
        significant=True,
        detected_at="2026-05-31T10:15:00+00:00",
        before=VersionRef("Antes", 1),
        after=VersionRef(headline, 2),
        summary=summary,
        added=("Nuevo párrafo con 57 evacuados\x0b.",),
        removed=("Párrafo retirado <b>viejo</b>.",),
        watch_items=(1,),
    )
    quiet = ChangeEntry(
        **{**change.__dict__, "significant": False, "detected_at": "2026-05-31T11:00:00+00:00"}
    )
    return Report(
        slug="paraguay-pena-taiwan-2026",
        title="Peña & Taiwán",
        generated_at="2026-05-31T12:00:00+00:00",
        since="2026-05-30T12:00:00+00:00",
        watch_items=((1, "Data center"),),
        changes=(change, quiet),
        follow_ups=(),
        errors=(),
    )


def test_atom_feed_parses_and_keeps_page_text_as_text() -> None:
    hostile = '<script>alert("x")</script> & more'
    text = render(_report(hostile, "Titular <i>nuevo</i>"), "atom")
    assert AtomRenderer.kind == "atom"
    feed = feedparser.parse(text)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "watchdesk: Peña & Taiwán"
    assert feed.feed.id == "tag:watchdesk,2026:event/paraguay-pena-taiwan-2026"
    assert len(feed.entries) == 1  # the insignificant change is left out
    entry = feed.entries[0]
    assert entry.title == "ABC Color · headline · Titular <i>nuevo</i>"
    assert entry.link == "https://www.abc.com.py/politica/2026/05/31/data-center/"
    assert entry.updated == "2026-05-31T10:15:00Z"
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "57 evacuados" in entry.content[0].value


def test_atom_entry_ids_do_not_change_between_renders() -> None:
    first = feedparser.parse(render(_report("Edited.", "A"), "atom"))
    second = feedparser.parse(render(_report("Edited again.", "B"), "atom"))
    assert first.entries[0].id.startswith("tag:watchdesk,2026:change/")
    assert first.entries[0].id == second.entries[0].id
