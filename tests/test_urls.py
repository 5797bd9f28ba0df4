"""URL helpers: the fetchable canonical form, the identity key, outlet hosts and the host map."""

from __future__ import annotations

import pytest

from crawler.fetch.urls import (
    host_of,
    is_http_url,
    normalize_url,
    outlet_host,
    parse_host_map,
    rewrite_for_host_map,
    url_key,
)

NORMALIZE = [
    (
        "HTTPS://WWW.Focustaiwan.TW:443/politics/202605100007?utm_source=x&utm_medium=y#top",
        "https://www.focustaiwan.tw/politics/202605100007",
    ),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    (
        "https://www.washingtonpost.com/world/x/?fbclid=abc&b=2&a=1&gclid=z&mc_cid=1&mc_eid=2"
        "&ref=home&cmpid=9&outputType=amp&UTM_Campaign=c",
        "https://www.washingtonpost.com/world/x/?a=1&b=2&outputType=amp",
    ),
    ("https://example.com/Taiw%c3%a1n", "https://example.com/Taiw%C3%A1n"),
    ("https://example.com/Taiw%C3%A1n", "https://example.com/Taiw%C3%A1n"),
    ("https://example.com/Taiwán", "https://example.com/Taiw%C3%A1n"),
    ("https://example.com/%7Euser/%41", "https://example.com/~user/A"),
    ("https://example.com/search?q=台灣", "https://example.com/search?q=%E5%8F%B0%E7%81%A3"),
    ("https://www.abc.com.py/politica/", "https://www.abc.com.py/politica/"),
    ("https://www.abc.com.py/politica", "https://www.abc.com.py/politica"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/a?utm_source=only", "https://example.com/a"),
    ("  https://例え.jp/x  ", "https://xn--r8jz45g.jp/x"),
    ("https://[2001:db8::1]:443/a", "https://[2001:db8::1]/a"),
]


@pytest.mark.parametrize(("url", "expected"), NORMALIZE)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected
    assert normalize_url(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/a", "javascript:alert(1)", "https:///a", "https://u:p@example.com/", ""],
)
def test_normalize_refuses_non_http(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        normalize_url(url)


def test_url_key_folds_what_fetching_must_keep() -> None:
    spellings = [
        "http://www.abc.com.py/politica/2026/05/31/x/",
        "https://abc.com.py/politica/2026/05/31/x",
        "https://ABC.com.py/politica/2026/05/31/x?utm_source=newsletter#comments",
        "https://www.abc.com.py:443/politica/2026/05/31/x/",
    ]
    assert {url_key(u) for u in spellings} == {"https://abc.com.py/politica/2026/05/31/x"}
    assert len({normalize_url(u) for u in spellings}) == 3  # still distinct when fetched


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://www.focustaiwan.tw/", "https://focustaiwan.tw/"),
        ("http://www.focustaiwan.tw", "https://focustaiwan.tw/"),
        ("https://focustaiwan.tw/news?page=2", "https://focustaiwan.tw/news?page=2"),
        ("https://wwwx.example.com/a/", "https://wwwx.example.com/a"),
    ],
)
def test_url_key_cases(url: str, key: str) -> None:
    assert url_key(url) == key


def test_url_key_keeps_real_differences() -> None:
    assert url_key("https://focustaiwan.tw/news?page=2") != url_key("https://focustaiwan.tw/news")
    assert url_key("https://focustaiwan.tw/a") != url_key("https://focustaiwan.tw/A")
    assert url_key("https://m.example.com/a") != url_key("https://example.com/a")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://focustaiwan.tw/politics/202605100007", True),
        ("HTTP://example.com", True),
        ("mailto:desk@example.com", False),
        ("data:text/plain,hi", False),
        ("file:///etc/passwd", False),
        ("https://user@example.com/", False),
        ("http://", False),
        ("https://exa mple.com/", False),
        ("https://[::1", False),
    ],
)
def test_is_http_url(url: str, ok: bool) -> None:
    assert is_http_url(url) is ok


@pytest.mark.parametrize(
    ("url", "host", "outlet"),
    [
        (
            "https://english.president.gov.tw/News/7133",
            "english.president.gov.tw",
            "president.gov.tw",
        ),
        ("https://www.ip.gov.py/ip/2026/05/07/x/", "ip.gov.py", "ip.gov.py"),
        ("https://WWW.abc.com.py:8080/politica/", "abc.com.py", "abc.com.py"),
        ("https://focustaiwan.tw/politics/1", "focustaiwan.tw", "focustaiwan.tw"),
        ("https://www.taiwannews.com.tw/news/6358067", "taiwannews.com.tw", "taiwannews.com.tw"),
        ("https://www.washingtonpost.com/world/", "washingtonpost.com", "washingtonpost.com"),
        ("https://news.bbc.co.uk/a", "news.bbc.co.uk", "bbc.co.uk"),
        ("http://127.0.0.1:8080/focustaiwan.tw/x", "127.0.0.1", "127.0.0.1"),
        ("http://localhost/x", "localhost", "localhost"),
        ("not a url", "", ""),
    ],
)
def test_host_and_outlet(url: str, host: str, outlet: str) -> None:
    assert host_of(url) == host
    assert outlet_host(url) == outlet


HOST_MAP_JSON = """{
  "focustaiwan.tw": "http://127.0.0.1:8080/focustaiwan.tw",
  "ABC.com.py": "http://127.0.0.1:8080/abc/",
  "www.taiwannews.com.tw": "http://127.0.0.1:9000",
  "www.example.com": "http://127.0.0.1:1/www",
  "example.com": "http://127.0.0.1:1/bare"
}"""


@pytest.fixture(scope="module")
def host_map() -> dict[str, str]:
    return parse_host_map(HOST_MAP_JSON)


def test_parse_host_map_lowercases_hosts(host_map: dict[str, str]) -> None:
    assert sorted(host_map) == [
        "abc.com.py",
        "example.com",
        "focustaiwan.tw",
        "www.example.com",
        "www.taiwannews.com.tw",
    ]
    assert parse_host_map("  ") == {}


@pytest.mark.parametrize(
    ("url", "rewritten"),
    [
        (
            "https://focustaiwan.tw/politics/202605100007?x=1",
            "http://127.0.0.1:8080/focustaiwan.tw/politics/202605100007?x=1",
        ),
        ("https://focustaiwan.tw", "http://127.0.0.1:8080/focustaiwan.tw/"),
        ("https://focustaiwan.tw/a#frag", "http://127.0.0.1:8080/focustaiwan.tw/a"),
        (
            "https://www.abc.com.py/politica/2026/05/31/x/",
            "http://127.0.0.1:8080/abc/politica/2026/05/31/x/",
        ),
        ("https://taiwannews.com.tw/news/6358067", "http://127.0.0.1:9000/news/6358067"),
        ("https://www.example.com/p", "http://127.0.0.1:1/www/p"),  # exact host first
        ("https://example.com/p", "http://127.0.0.1:1/bare/p"),
        ("https://english.president.gov.tw/News/7133", None),
        ("https://notfocustaiwan.tw/a", None),
        ("https://m.focustaiwan.tw/a", None),
        ("mailto:desk@focustaiwan.tw", None),
    ],
)
def test_rewrite_for_host_map(host_map: dict[str, str], url: str, rewritten: str | None) -> None:
    assert rewrite_for_host_map(url, host_map) == rewritten


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["focustaiwan.tw"]', "JSON object"),
        ('[["focustaiwan.tw", "http://127.0.0.1/"]]', "JSON object"),
        ('{"https://focustaiwan.tw": "http://127.0.0.1/"}', "bare host"),
        ('{"focustaiwan.tw/politics": "http://127.0.0.1/"}', "bare host"),
        ('{"focustaiwan.tw:443": "http://127.0.0.1/"}', "bare host"),
        ('{"focustaiwan.tw": "ftp://127.0.0.1/"}', "not an http(s) URL"),
        ('{"focustaiwan.tw": 8080}', "not an http(s) URL"),
        ('{"focustaiwan.tw": "http://127.0.0.1/?a=1"}', "query or fragment"),
        ('{"a.tw": "http://127.0.0.1/", "A.tw": "http://127.0.0.1/"}', "twice"),
    ],
)
def test_parse_host_map_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_host_map(text)
