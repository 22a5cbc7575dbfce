"""bot.feeds.urls: canonical URLs and the http(s) check, table-driven."""

from __future__ import annotations

import pytest

from bot.feeds.urls import canonical_url, is_http_url, redact_url

CANONICAL = [
    ("already canonical", "https://example.com/a/b?x=1", "https://example.com/a/b?x=1"),
    (
        "scheme and host lower-cased",
        "HTTPS://News.Example.COM/Story",
        "https://news.example.com/Story",
    ),
    ("path case kept", "https://example.com/A/B", "https://example.com/A/B"),
    ("default http port dropped", "http://example.com:80/a", "http://example.com/a"),
    ("default https port dropped", "https://example.com:443/a", "https://example.com/a"),
    ("other port kept", "https://example.com:8443/a", "https://example.com:8443/a"),
    ("empty path becomes slash", "https://example.com", "https://example.com/"),
    ("fragment dropped", "https://example.com/a#comments", "https://example.com/a"),
    ("trailing dot on host dropped", "https://example.com./a", "https://example.com/a"),
    ("user info dropped", "https://user:pw@example.com/a", "https://example.com/a"),
    ("surrounding whitespace", "  https://example.com/a \n", "https://example.com/a"),
    ("space in path encoded", "https://example.com/a b", "https://example.com/a%20b"),
    ("encoded path kept", "https://example.com/a%2Fb", "https://example.com/a%2Fb"),
    ("ipv6 literal", "http://[::1]:8080/x", "http://[::1]:8080/x"),
    (
        "utm parameters removed",
        "https://example.com/a?utm_source=rss&id=7&utm_medium=feed&utm_campaign=x",
        "https://example.com/a?id=7",
    ),
    (
        "click ids removed",
        "https://example.com/a?fbclid=IwAR0&gclid=Cj0&msclkid=9&p=2",
        "https://example.com/a?p=2",
    ),
    (
        "mailchimp and twitter removed",
        "https://example.com/a?mc_cid=1&mc_eid=2&ref_src=twsrc",
        "https://example.com/a",
    ),
    (
        "tracking name matched case-insensitively",
        "https://example.com/?UTM_Source=x",
        "https://example.com/",
    ),
    (
        "other parameters keep order",
        "https://example.com/?b=2&a=1&b=3",
        "https://example.com/?b=2&a=1&b=3",
    ),
    ("parameter encoding kept", "https://example.com/?q=a+b%26c", "https://example.com/?q=a+b%26c"),
    ("empty query pieces dropped", "https://example.com/?&&a=1&", "https://example.com/?a=1"),
    (
        "google alerts unwrapped",
        "https://www.google.com/url?rct=j&sa=t&url=https://News.Example.org/s%3Fid%3D4%26utm_source%3Dga"
        "&ct=ga&cd=CAI&usg=AOv",
        "https://news.example.org/s?id=4",
    ),
    (
        "google url with q unwrapped",
        "https://www.google.com/url?q=https://example.org/story&sa=D",
        "https://example.org/story",
    ),
    (
        "google news url param unwrapped",
        "https://news.google.com/news/url?sa=t&fd=R&url=https://example.org/a/b#x&usg=AFQ",
        "https://example.org/a/b",
    ),
    (
        "google news article without url param kept",
        "https://news.google.com/rss/articles/CBMiK2h0dHBz?oc=5",
        "https://news.google.com/rss/articles/CBMiK2h0dHBz?oc=5",
    ),
    (
        "google redirect to a non-http target kept as is",
        "https://www.google.com/url?url=javascript:alert(1)",
        "https://www.google.com/url?url=javascript:alert(1)",
    ),
    (
        "google search page not unwrapped",
        "https://www.google.com/search?q=x",
        "https://www.google.com/search?q=x",
    ),
    ("javascript scheme", "javascript:alert(1)", ""),
    ("mailto scheme", "mailto:desk@example.com", ""),
    ("ftp scheme", "ftp://example.com/feed", ""),
    ("relative url", "/news/1", ""),
    ("protocol-relative url", "//example.com/a", ""),
    ("no host", "https:///a", ""),
    ("bad port", "https://example.com:99999/", ""),
    ("port not a number", "https://example.com:abc/", ""),
    ("empty", "", ""),
]


@pytest.mark.parametrize(
    ("url", "expected"), [c[1:] for c in CANONICAL], ids=[c[0] for c in CANONICAL]
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize("url", [c[1] for c in CANONICAL], ids=[c[0] for c in CANONICAL])
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


HTTP_URLS = [
    ("http", "http://example.com/", True),
    ("https upper-case scheme", "HTTPS://example.com", True),
    ("javascript", "javascript:alert(1)", False),
    ("data", "data:text/html,hi", False),
    ("relative", "/a", False),
    ("no host", "http://", False),
    ("ipv6 broken", "http://[::1/", False),
]


@pytest.mark.parametrize(
    ("url", "expected"), [c[1:] for c in HTTP_URLS], ids=[c[0] for c in HTTP_URLS]
)
def test_is_http_url(url: str, expected: bool) -> None:
    assert is_http_url(url) is expected


REDACTED = [
    ("nothing secret", "https://news.example/rss?cat=tech", "https://news.example/rss?cat=tech"),
    ("user and password", "http://user:pw@host.example/x", "http://***@host.example/x"),
    ("user only (a token as user)", "https://ghp_abc@host.example/x", "https://***@host.example/x"),
    ("port kept", "http://u:p@127.0.0.1:8080/x", "http://***@127.0.0.1:8080/x"),
    ("api_key", "https://h.example/x?api_key=abc&lang=en", "https://h.example/x?api_key=***&lang=en"),
    ("token", "https://h.example/x?token=abc", "https://h.example/x?token=***"),
    ("key", "https://h.example/x?key=abc", "https://h.example/x?key=***"),
    ("sig", "https://h.example/x?sig=abc", "https://h.example/x?sig=***"),
    ("access_token", "https://h.example/x?access_token=a", "https://h.example/x?access_token=***"),
    ("password", "https://h.example/x?password=a", "https://h.example/x?password=***"),
    ("secret in a name", "https://h.example/x?client_secret=a", "https://h.example/x?client_secret=***"),
    ("auth", "https://h.example/x?auth=a", "https://h.example/x?auth=***"),
    ("names any case", "https://h.example/x?API_KEY=a", "https://h.example/x?API_KEY=***"),
    ("encoded name", "https://h.example/x?api%5Fkey=a", "https://h.example/x?api%5Fkey=***"),
    ("random value", "https://h.example/x?u=a1b2c3d4e5f6a7b8c9", "https://h.example/x?u=***"),
    ("random path segment", "https://h.example/f/0a1b2c3d4e5f6a7b8c9d0e1f/rss",
     "https://h.example/f/***/rss"),
    ("bare random query", "https://h.example/x?a1b2c3d4e5f6a7b8c9", "https://h.example/x?***"),
    ("fragment dropped", "https://h.example/x#token=abc", "https://h.example/x"),
    ("unreadable", "http://[::1/x", "(unreadable URL)"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "shown"), [c[1:] for c in REDACTED], ids=[c[0] for c in REDACTED])
def test_feed_credentials_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_url(shown) == shown  # redacting twice changes nothing
