"""The replay server: lookup, validators, misbehaving routes, states, the CLI and the demo pages."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import urllib.error
import urllib.request
from email.utils import formatdate
from pathlib import Path

import pytest
import yaml

from crawler.demo.replay import ReplayServer

DEMO = Path(__file__).resolve().parents[1] / "crawler" / "demo" / "pages"
EXPECTED = DEMO.parent / "expected.yaml"
KINDS = {"headline", "correction", "edit", "minor", "cosmetic", "byline", "dates", "removed"}
KINDS |= {"restored", "none"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Let 3xx answers through so their Location can be read."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


# No proxies from the environment: every request goes straight to 127.0.0.1.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def fetch(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, data: bytes | None = None
):
    """(status, headers, body) of one request, whatever the status."""
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with OPENER.open(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """Two states of a tiny outlet, with misbehaving routes in the first."""
    one, two = tmp_path / "state1" / "news.example", tmp_path / "state2" / "news.example"
    write(one / "index.html", "<p>home</p>")
    write(one / "robots.txt", "User-agent: *\nDisallow: /private/\n")
    write(one / "a" / "exact.txt", "exact file")
    write(one / "News" / "7133.html", "<p>suffix lookup ü</p>")
    write(one / "ip" / "2026" / "slug" / "index.html", "<p>index lookup</p>")
    write(one / "flaky.html", "<p>recovered</p>")
    write(one / "story.html", "<p>version one</p>")
    write(two / "story.html", "<p>version two</p>")
    write(two / "only-two.html", "<p>new in two</p>")
    routes = {
        "news.example/flaky": {"status": 503, "fail_times": 2},
        "news.example/gone": {"status": 410, "body": "<h1>Gone for good</h1>"},
        "news.example/moved": {"redirect": "https://news.example/story", "redirect_status": 302},
        "news.example/loop-a": {"redirect": "https://news.example/loop-b"},
        "news.example/loop-b": {"redirect": "https://news.example/loop-a"},
        "news.example/pdf": {"file": "story.html", "content_type": "application/pdf"},
        "news.example/nocharset": {"file": "story.html", "charset": "none"},
        "news.example/etag-only": {"file": "story.html", "validators": "etag"},
        "news.example/lm-only": {"file": "story.html", "validators": "last-modified"},
        "news.example/zipped": {"file": "story.html", "gzip": True, "headers": {"X-Test": "1"}},
        "news.example/huge": {"body_bytes": 300_000},
        "news.example/slow": {"delay": 3, "file": "story.html"},
        "news.example/reset": {"reset": True},
        "news.example/busy": {"status": 429, "body": "slow down", "headers": {"Retry-After": "60"}},
    }
    write(tmp_path / "state1" / "routes.yaml", yaml.safe_dump(routes))
    return tmp_path


@pytest.fixture
def server(site: Path):
    with ReplayServer(site) as replay:
        yield replay


def url(server: ReplayServer, path: str) -> str:
    return f"{server.base_url}/news.example{path}"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/a/exact.txt", b"exact file"),
        ("/News/7133", "<p>suffix lookup ü</p>".encode()),
        ("/ip/2026/slug/", b"<p>index lookup</p>"),
        ("/ip/2026/slug", b"<p>index lookup</p>"),
        ("/", b"<p>home</p>"),
        ("/News/7133?utm_source=x&page=2", "<p>suffix lookup ü</p>".encode()),
    ],
)
def test_file_lookup_variants(server: ReplayServer, path: str, body: bytes) -> None:
    status, headers, got = fetch(url(server, path))
    assert (status, got) == (200, body)
    assert int(headers["Content-Length"]) == len(body)


def test_missing_files_traversal_and_unknown_hosts_are_404(server: ReplayServer) -> None:
    assert fetch(url(server, "/nope"))[0] == 404
    assert fetch(url(server, "/../state2/news.example/story.html"))[0] == 404
    assert fetch(url(server, "/%2e%2e/%2e%2e/state2/news.example/story.html"))[0] == 404
    assert fetch(f"{server.base_url}/other.example/story.html")[0] == 404


def test_www_twin_folder_and_host_map(server: ReplayServer) -> None:
    assert fetch(f"{server.base_url}/www.news.example/story.html")[2] == b"<p>version one</p>"
    assert server.host_map() == {"news.example": f"{server.base_url}/news.example"}
    assert server.host_map(["a.example"]) == {"a.example": f"{server.base_url}/a.example"}


def test_robots_txt_served_as_text(server: ReplayServer) -> None:
    status, headers, body = fetch(url(server, "/robots.txt"))
    assert status == 200 and b"Disallow: /private/" in body
    assert headers["Content-Type"] == "text/plain; charset=utf-8"


def test_304_on_if_none_match_and_if_modified_since(server: ReplayServer) -> None:
    status, headers, _ = fetch(url(server, "/story"))
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and etag.startswith('"') and len(etag) == 42
    again = fetch(url(server, "/story"), headers={"If-None-Match": etag})
    assert (again[0], again[2]) == (304, b"")
    assert again[1]["ETag"] == etag
    assert fetch(url(server, "/story"), headers={"If-None-Match": f'"x", W/{etag}'})[0] == 304
    assert fetch(url(server, "/story"), headers={"If-Modified-Since": last_modified})[0] == 304
    assert fetch(url(server, "/story"), headers={"If-None-Match": '"other"'})[0] == 200
    # If-None-Match wins over a matching If-Modified-Since (RFC 9110 13.2.2).
    both = {"If-None-Match": '"other"', "If-Modified-Since": last_modified}
    assert fetch(url(server, "/story"), headers=both)[0] == 200


def test_validators_follow_the_body_across_states(server: ReplayServer) -> None:
    _, first, _ = fetch(url(server, "/story"))
    _, same, _ = fetch(url(server, "/story"))
    assert (same["ETag"], same["Last-Modified"]) == (first["ETag"], first["Last-Modified"])
    server.set_state("state2")
    conditional = {"If-None-Match": first["ETag"]}
    status, second, body = fetch(url(server, "/story"), headers=conditional)
    assert (status, body) == (200, b"<p>version two</p>")
    assert second["ETag"] != first["ETag"]
    assert second["Last-Modified"] != first["Last-Modified"]
    stale = {"If-Modified-Since": first["Last-Modified"]}
    assert fetch(url(server, "/story"), headers=stale)[0] == 200


def test_validator_modes(server: ReplayServer) -> None:
    _, etag_only, _ = fetch(url(server, "/etag-only"))
    assert "ETag" in etag_only and "Last-Modified" not in etag_only
    _, lm_only, _ = fetch(url(server, "/lm-only"))
    assert "ETag" not in lm_only and "Last-Modified" in lm_only
    since = {"If-Modified-Since": lm_only["Last-Modified"]}
    assert fetch(url(server, "/lm-only"), headers=since)[0] == 304
    other_time = {"If-Modified-Since": formatdate(0, usegmt=True)}
    assert fetch(url(server, "/lm-only"), headers=other_time)[0] == 200


def test_fail_times_then_recovery_and_hit_counter(server: ReplayServer) -> None:
    statuses = [fetch(url(server, "/flaky"))[0] for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    assert server.hits("news.example", "/flaky") == 4
    assert fetch(url(server, "/flaky"))[2] == b"<p>recovered</p>"
    server.set_state("state1")
    assert server.hits("news.example", "/flaky") == 0
    assert fetch(url(server, "/flaky"))[0] == 503


def test_permanent_status_with_body(server: ReplayServer) -> None:
    assert fetch(url(server, "/gone"))[:3:2] == (410, b"<h1>Gone for good</h1>")
    status, headers, body = fetch(url(server, "/busy"))
    assert (status, body, headers["Retry-After"]) == (429, b"slow down", "60")


def test_redirect_location_is_the_real_url(server: ReplayServer) -> None:
    status, headers, _ = fetch(url(server, "/moved"))
    assert (status, headers["Location"]) == (302, "https://news.example/story")
    status, headers, _ = fetch(url(server, "/loop-a"))
    assert (status, headers["Location"]) == (301, "https://news.example/loop-b")
    assert fetch(url(server, "/loop-b"))[1]["Location"] == "https://news.example/loop-a"


def test_content_type_overrides(server: ReplayServer) -> None:
    assert fetch(url(server, "/story"))[1]["Content-Type"] == "text/html; charset=utf-8"
    assert fetch(url(server, "/nocharset"))[1]["Content-Type"] == "text/html"
    assert fetch(url(server, "/pdf"))[1]["Content-Type"] == "application/pdf"


def test_gzip_body_and_extra_headers(server: ReplayServer) -> None:
    status, headers, body = fetch(url(server, "/zipped"))
    assert (status, headers["Content-Encoding"], headers["X-Test"]) == (200, "gzip", "1")
    assert gzip.decompress(body) == b"<p>version one</p>"


def test_huge_generated_body(server: ReplayServer) -> None:
    status, _, body = fetch(url(server, "/huge"))
    assert status == 200 and len(body) == 300_000 and body.endswith(b"</html>")


def test_head_sends_headers_without_body(server: ReplayServer) -> None:
    status, headers, body = fetch(url(server, "/story"), method="HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["Content-Length"]) == len(b"<p>version one</p>")


def network_error(target: str, timeout: float) -> BaseException:
    """The exception a request raises; an HTTP answer (HTTPError) fails the test."""
    try:
        OPENER.open(urllib.request.Request(target), timeout=timeout)
    except urllib.error.HTTPError as error:
        pytest.fail(f"expected no HTTP answer, got {error.code}")
    except OSError as error:
        return error
    pytest.fail("expected a network error, got a response")


def test_delay_times_out_and_reset_drops_the_connection(server: ReplayServer) -> None:
    slow = network_error(url(server, "/slow"), timeout=0.5)
    assert isinstance(getattr(slow, "reason", slow), TimeoutError)
    reset = network_error(url(server, "/reset"), timeout=5)
    assert isinstance(getattr(reset, "reason", reset), ConnectionError)
    assert [e["status"] for e in server.log if e["path"] == "/reset"] == [None]


def test_state_switch_swaps_the_page_set(server: ReplayServer) -> None:
    assert fetch(url(server, "/only-two"))[0] == 404
    server.set_state("state2")
    assert fetch(url(server, "/only-two"))[2] == b"<p>new in two</p>"
    assert fetch(url(server, "/flaky"))[0] == 404  # state2 has neither the route nor the file
    with pytest.raises(ValueError, match="no state"):
        server.set_state("../state1")
    assert server.state == "state2"


def test_request_log(server: ReplayServer) -> None:
    fetch(
        url(server, "/story?x=1"), headers={"User-Agent": "watchdesk-test", "If-None-Match": '"a"'}
    )
    entry = server.log[-1]
    assert entry["method"] == "GET" and entry["host"] == "news.example"
    assert (entry["path"], entry["query"], entry["status"]) == ("/story", "x=1", 200)
    assert (entry["user_agent"], entry["if_none_match"]) == ("watchdesk-test", '"a"')
    assert entry["if_modified_since"] is None


def test_binds_loopback_only(server: ReplayServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.port > 0


def test_module_cli_prints_url_and_obeys_control_endpoints(site: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.demo.replay", str(site), "--state", "state1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        assert fetch(f"{base}/news.example/story")[2] == b"<p>version one</p>"
        status, _, body = fetch(f"{base}/_replay/state", method="POST", data=b"state2")
        assert (status, body) == (200, b"state2\n")
        assert fetch(f"{base}/news.example/story")[2] == b"<p>version two</p>"
        assert fetch(f"{base}/_replay/state", method="POST", data=b"state9")[0] == 400
        log = json.loads(fetch(f"{base}/_replay/log")[2])
        assert [e["status"] for e in log] == [200, 200]
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


# --- the demo pages ----------------------------------------------------------------------


def expected_pages() -> dict[str, dict]:
    return yaml.safe_load(EXPECTED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo():
    with ReplayServer(DEMO) as replay:
        yield replay


def demo_url(server: ReplayServer, real_url: str) -> str:
    host, _, path = real_url.removeprefix("https://").partition("/")
    return f"{server.base_url}/{host}/{path}"


def test_expected_yaml_names_seven_urls_with_known_kinds() -> None:
    pages = expected_pages()
    assert len(pages) == 7
    for entry in pages.values():
        assert entry["kinds"] and set(entry["kinds"]) <= KINDS and entry["note"]


def test_demo_state1_serves_every_cited_page_and_home(demo: ReplayServer) -> None:
    demo.set_state("state1")
    for real_url in expected_pages():
        status, _, body = fetch(demo_url(demo, real_url))
        assert status == 200, real_url
        assert 10_000 < len(body) < 60_000, real_url
        assert body.decode("utf-8")
    for host in demo.host_map():
        assert fetch(f"{demo.base_url}/{host}/")[0] == 200, host
        assert b"User-agent: *" in fetch(f"{demo.base_url}/{host}/robots.txt")[2], host


def test_demo_presidential_office_has_no_charset(demo: ReplayServer) -> None:
    demo.set_state("state1")
    status, headers, body = fetch(demo_url(demo, "https://english.president.gov.tw/News/7133"))
    assert status == 200
    assert headers["Content-Type"] == "text/html"
    assert "Peña".encode() in body


def test_demo_state2_failures(demo: ReplayServer) -> None:
    demo.set_state("state2")
    tn = demo_url(demo, "https://www.taiwannews.com.tw/news/6358067")
    assert [fetch(tn)[0] for _ in range(5)] == [503, 503, 503, 503, 200]
    pages = expected_pages()
    removed = next(u for u, e in pages.items() if e["kinds"] == ["removed"])
    status, _, body = fetch(demo_url(demo, removed))
    assert status == 404 and "Página no encontrada".encode() in body
