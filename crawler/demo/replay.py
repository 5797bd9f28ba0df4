"""Local replay web server: outlet pages from disk, in switchable states, on 127.0.0.1 only.

Tests, benchmarks and the demo crawl real URLs through `WATCHDESK_HOST_MAP`; the map sends
`https://HOST/PATH?Q` here as `http://127.0.0.1:PORT/HOST/PATH?Q`. Pages live in
`ROOT/<state>/<host>/<path>`; a request is served from the exact file, else `<path>.html`,
else `<path>/index.html`. Query strings are ignored for lookup. Switching the state swaps the
whole page set at once, which is how the demo shows "the outlets edited their articles".

`ROOT/<state>/routes.yaml` (optional) gives misbehaviour per `host/path` (the path as
requested, without query; a key `host/*` sets defaults for every path of that host):
`status` (+ `fail_times`: only the first N hits of the path fail, then the file is served),
`redirect` (a real URL for Location) + `redirect_status`, `delay` (seconds), `reset` (close
without answering), `content_type`, `charset` (`none` drops it), `validators`
(both|etag|last-modified|none), `etag` (a fixed ETag, the same whatever the body: a stuck
validator), `no_length` (no Content-Length; the connection closes after the body, so a
client cannot tell a cut body from a whole one), `headers`, `body_bytes` (generated page of
N bytes), `gzip`, `file` (serve another file of the host folder) and `body` (text for a
status answer).

Validators are computed from the body: ETag is the quoted sha1; Last-Modified is a time
derived from the same hash, so it changes exactly when the body does. If-Modified-Since
matches exactly (nginx's default `if_modified_since exact`), because hash-derived times are
not ordered. If-None-Match takes precedence over If-Modified-Since (RFC 9110 13.2.2).

Run alone: `python -m crawler.demo.replay ROOT [--state state1] [--port 0]` prints its base URL
on the first line; `POST /_replay/state` (body: state name) switches, `GET /_replay/log`
returns the request log as JSON.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterable
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
CONTROL_PREFIX = "/_replay/"
#: Last-Modified times are spread over 60 days from here (a stable, plausible past).
_LM_EPOCH = 1777593600  # 2026-05-01T00:00:00Z
_LM_SPAN = 60 * 86400
_CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".json": "application/json",
    ".pdf": "application/pdf",
    ".gz": "application/gzip",
}


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a crawler killed mid-request, a timeout) is normal here:
    log it at debug level instead of printing a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            logger.debug("client %s went away: %r", client_address, error)
        else:
            super().handle_error(request, client_address)


class ReplayServer:
    """Serve `ROOT/<state>/<host>/...` over HTTP on 127.0.0.1 in a daemon thread."""

    def __init__(self, root: Path, state: str = "state1", port: int = 0) -> None:
        """Prepare the server; nothing is bound until `start`.

        Args:
            root: folder holding one sub-folder per state.
            state: the page set served first.
            port: TCP port on 127.0.0.1; 0 picks a free one.
        """
        self.root = Path(root).resolve()
        self.port = port
        self.log: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.state = ""
        self._routes: dict[str, dict[str, Any]] = {}
        self._hits: dict[str, int] = {}
        self.set_state(state)

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT` of the running server."""
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        """Bind 127.0.0.1 and serve in a daemon thread."""
        httpd = _QuietServer((HOST, self.port), _Handler)
        httpd.daemon_threads = True
        httpd.replay = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="replay", daemon=True
        )
        self._thread.start()
        logger.info("replay server on %s serving %s (%s)", self.base_url, self.root, self.state)

    def stop(self) -> None:
        """Stop serving and release the port; delayed answers are cut short."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ReplayServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def host_map(self, hosts: Iterable[str] | None = None) -> dict[str, str]:
        """A `WATCHDESK_HOST_MAP` value sending each host to this server.

        Args:
            hosts: hosts to map; None maps every host folder of the current state.

        Returns:
            host -> `base_url/host`.
        """
        if hosts is None:
            hosts = sorted(p.name for p in (self.root / self.state).iterdir() if p.is_dir())
        return {host: f"{self.base_url}/{host}" for host in hosts}

    def set_state(self, name: str) -> None:
        """Switch to another page set at once and reset the per-path hit counters.

        Raises:
            ValueError: when `ROOT/<name>` is not a folder (or the name is not a plain name).
        """
        folder = self.root / name
        if not name or "/" in name or name.startswith(".") or not folder.is_dir():
            raise ValueError(f"no state {name!r} under {self.root}")
        routes = _load_routes(folder / "routes.yaml")
        with self._lock:
            self.state, self._routes, self._hits = name, routes, {}
        logger.info("replay state is now %s", name)

    def hits(self, host: str, path: str) -> int:
        """How many requests reached `host` + `path` (no query) since the last state switch."""
        with self._lock:
            return self._hits.get(host + path, 0)

    def _record_hit(self, key: str) -> tuple[str, dict[str, Any], int]:
        """Count a request; return the state, its route and the hit number, consistently."""
        with self._lock:
            self._hits[key] = self._hits.get(key, 0) + 1
            host = key.split("/", 1)[0]
            route = {**self._routes.get(host + "/*", {}), **self._routes.get(key, {})}
            return self.state, route, self._hits[key]

    def _append_log(self, entry: dict[str, Any]) -> None:
        """Keep one log row per answered request."""
        with self._lock:
            self.log.append(entry)

    def _file_for(self, state: str, host: str, path: str) -> Path | None:
        """The file answering `path` on `host`: exact, `.html`, then `index.html`."""
        host_dir = _host_folder(self.root / state, host)
        if host_dir is None:
            return None
        relative = unquote(path).lstrip("/")
        base = (host_dir / relative).resolve()
        if not base.is_relative_to(host_dir):
            return None
        candidates = [base, base.with_name(base.name + ".html"), base / "index.html"]
        if not relative or relative.endswith("/"):
            candidates = [base / "index.html"]
        return next((c for c in candidates if c.is_file()), None)


def _host_folder(state_dir: Path, host: str) -> Path | None:
    """The folder of `host` in a state, accepting the `www.` twin like the host map does."""
    if not host or host.startswith(".") or "/" in host:
        return None
    twin = host[4:] if host.startswith("www.") else f"www.{host}"
    for name in (host, twin):
        folder = (state_dir / name).resolve()
        if folder.is_dir() and folder.parent == state_dir.resolve():
            return folder
    return None


def _load_routes(path: Path) -> dict[str, dict[str, Any]]:
    """Read a state's routes.yaml (absent file: no routes)."""
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f"{path}: expected a mapping of 'host/path' -> behaviour mapping")
    return {str(key): value for key, value in data.items()}


def etag_for(body: bytes) -> str:
    """Strong ETag of a body: the quoted sha1 of its bytes."""
    return '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest() + '"'


def last_modified_for(body: bytes) -> str:
    """HTTP date derived from the body hash: fixed for a body, different when it changes."""
    digest = hashlib.sha1(body, usedforsecurity=False).digest()
    offset = int.from_bytes(digest[:6], "big") % _LM_SPAN
    return formatdate(_LM_EPOCH + offset, usegmt=True)


def generated_page(size: int) -> bytes:
    """An HTML page of exactly `size` bytes (for the `body_bytes` route)."""
    head = b"<!DOCTYPE html><html><head><title>Huge page</title></head><body>"
    tail = b"</body></html>"
    filler = b"<p>All work and no play makes a very large page indeed.</p>\n"
    middle_len = max(size - len(head) - len(tail), 0)
    middle = (filler * (middle_len // len(filler) + 1))[:middle_len]
    return (head + middle + tail)[: max(size, 0)]


def _not_modified(headers: Any, etag: str | None, last_modified: str | None) -> bool:
    """Whether the conditional headers of a request match the current validators."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        if etag is None:
            return False
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    since = headers.get("If-Modified-Since")
    if since is None or last_modified is None:
        return False
    try:
        return parsedate_to_datetime(since) == parsedate_to_datetime(last_modified)
    except (TypeError, ValueError):
        return False


class _Handler(BaseHTTPRequestHandler):
    """One request: control endpoints, routes, then files."""

    protocol_version = "HTTP/1.1"
    server_version = "watchdesk-replay/1"
    sys_version = ""
    #: (host, path) of the request being answered; cleared once its log row is written.
    _logged_as: tuple[str, str] | None = None

    @property
    def replay(self) -> ReplayServer:
        return self.server.replay  # type: ignore[attr-defined, no-any-return]

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace").strip()
        if urlsplit(self.path).path != CONTROL_PREFIX + "state":
            # Listing APIs (Focus Taiwan's FTNewsList) are POSTs: answer like a GET and keep
            # the form in the log so tests can check what was asked.
            self.post_body = body
            self._dispatch(head=False)
            return
        try:
            self.replay.set_state(body)
        except ValueError as exc:
            self._send(400, f"{exc}\n".encode(), {"Content-Type": "text/plain"})
            return
        self._send(200, f"{body}\n".encode(), {"Content-Type": "text/plain"})

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _dispatch(self, head: bool) -> None:
        """Answer a GET or HEAD."""
        path = urlsplit(self.path).path or "/"
        if path.startswith(CONTROL_PREFIX):
            self._control(path[len(CONTROL_PREFIX) :], head)
            return
        host, _, rest = path.lstrip("/").partition("/")
        rest = "/" + rest
        self._arrived = time.time()
        state, route, hit = self.replay._record_hit(host + rest)
        self._logged_as = (host, rest)
        self._answer(state, host, rest, route, hit, head)
        if self._logged_as:  # nothing was sent: a reset or a delay cut short by `stop`
            self.replay._append_log(self._log_entry(host, rest, None))
            self._logged_as = None

    def _control(self, name: str, head: bool) -> None:
        """`GET /_replay/log` and `GET /_replay/state`."""
        if name == "log":
            body = json.dumps(self.replay.log, ensure_ascii=False).encode()
            self._send(200, body, {"Content-Type": "application/json"}, head)
        elif name == "state":
            self._send(200, f"{self.replay.state}\n".encode(), {"Content-Type": "text/plain"}, head)
        else:
            self._send(404, b"unknown control endpoint\n", {"Content-Type": "text/plain"}, head)

    def _answer(
        self, state: str, host: str, path: str, route: dict[str, Any], hit: int, head: bool
    ) -> None:
        """Apply the route's misbehaviour, else serve the file."""
        if route.get("delay") and self.replay._stopping.wait(float(route["delay"])):
            return
        if route.get("reset"):
            self._reset()
            return
        failing = "status" in route and hit <= int(route.get("fail_times", hit))
        if route.get("redirect") and not failing:
            status = int(route.get("redirect_status", 301))
            self._send(status, b"", {"Location": route["redirect"]}, head)
            return
        found = self._body(state, host, path, route)
        if failing or found is None:
            self._error(state, host, route if failing else {}, head)
        else:
            self._serve(*found, route, head)

    def _body(
        self, state: str, host: str, path: str, route: dict[str, Any]
    ) -> tuple[bytes, str] | None:
        """Page bytes and file suffix: generated, the route's file, or the looked-up file."""
        if route.get("body_bytes"):
            return generated_page(int(route["body_bytes"])), ".html"
        wanted = "/" + str(route["file"]) if route.get("file") else path
        found = self.replay._file_for(state, host, wanted)
        return (found.read_bytes(), found.suffix) if found else None

    def _error(self, state: str, host: str, route: dict[str, Any], head: bool) -> None:
        """Send the route's failure status (or a plain 404) with its body."""
        status = int(route.get("status", 404))
        found = None
        if route.get("file"):
            found = self.replay._file_for(state, host, "/" + str(route["file"]))
        if found is not None:
            body = found.read_bytes()
        else:
            text = route.get("body") or f"<html><body><h1>{status}</h1></body></html>\n"
            body = str(text).encode("utf-8")
        headers = {"Content-Type": _content_type(route, ".html"), **_extra(route)}
        self._send(status, body, headers, head)

    def _serve(self, body: bytes, suffix: str, route: dict[str, Any], head: bool) -> None:
        """Send a 200 (or 304) with validators, content type and optional gzip."""
        headers = {"Content-Type": _content_type(route, suffix or ".html")}
        if route.get("gzip"):
            body = gzip.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"
        mode = str(route.get("validators", "both")).lower()
        etag = (route.get("etag") or etag_for(body)) if mode in ("both", "etag") else None
        last_modified = last_modified_for(body) if mode in ("both", "last-modified") else None
        if etag:
            headers["ETag"] = etag
        if last_modified:
            headers["Last-Modified"] = last_modified
        headers.update(_extra(route))
        if _not_modified(self.headers, etag, last_modified):
            self._send(304, b"", headers, head=True)
        else:
            self._send(200, body, headers, head, length=not route.get("no_length"))

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str],
        head: bool = False,
        *,
        length: bool = True,
    ) -> None:
        """Write status, headers and (unless HEAD or 304) the body; without `length`, no
        Content-Length and the connection closes after the body."""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if not length:
            self.send_header("Connection", "close")
            self.close_connection = True
        elif status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        logged_as, self._logged_as = self._logged_as, None
        if logged_as:  # logged before the body goes out, so a client never outruns the log
            self.replay._append_log(self._log_entry(*logged_as, status))
        if not head and status != 304:
            self.wfile.write(body)

    def _reset(self) -> None:
        """Drop the connection with a TCP reset instead of an answer."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _log_entry(self, host: str, path: str, status: int | None) -> dict[str, Any]:
        """One row of the request log."""
        return {
            "method": self.command,
            "host": host,
            "path": path,
            "query": urlsplit(self.path).query,
            "status": status,
            "if_none_match": self.headers.get("If-None-Match"),
            "if_modified_since": self.headers.get("If-Modified-Since"),
            "user_agent": self.headers.get("User-Agent"),
            "body": getattr(self, "post_body", None),
            "time": time.time(),
            "arrived": getattr(self, "_arrived", None),
        }


def _content_type(route: dict[str, Any], suffix: str) -> str:
    """Content-Type from the route override or the file suffix, with the route's charset."""
    base = route.get("content_type") or _CONTENT_TYPES.get(suffix.lower(), "text/html")
    if ";" in base:
        return str(base)
    charset = str(route.get("charset", "utf-8"))
    textual = base.startswith("text/") or base.endswith(("/xml", "/json"))
    if charset.lower() == "none" or not textual:
        return str(base)
    return f"{base}; charset={charset}"


def _extra(route: dict[str, Any]) -> dict[str, str]:
    """The route's extra headers as strings."""
    return {str(k): str(v) for k, v in (route.get("headers") or {}).items()}


def main(argv: list[str] | None = None) -> None:
    """Serve ROOT until SIGTERM or SIGINT; the first stdout line is the base URL."""
    parser = argparse.ArgumentParser(prog="python -m crawler.demo.replay", description=__doc__)
    parser.add_argument("root", type=Path, help="folder with one sub-folder per state")
    parser.add_argument("--state", default="state1", help="page set to serve first")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    server = ReplayServer(args.root, state=args.state, port=args.port)
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    server.start()
    sys.stdout.write(server.base_url + "\n")  # the contract: base URL on the first line
    sys.stdout.flush()
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
