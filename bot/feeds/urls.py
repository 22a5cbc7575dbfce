"""URL canonicalisation: one spelling per article, so the same story is recognised across feeds.

Contract:
- `canonical_url(url)` returns the canonical http(s) form of `url`, or "" when it is not an
  http(s) URL with a host (``javascript:``, ``mailto:``, relative, malformed, bad port).
- `is_http_url(url)` says whether `url` is an absolute http(s) URL with a host.
- `redact_url(url)` is `url` fit to show (logs, metrics, `status`, error messages): the one
  redaction rule. User info, the values of secret-looking query parameters (api_key, token,
  sig, secret, password, auth, ...) and random-looking path segments and values become `***`;
  the fragment is dropped. The store and the fetch keep the real URL.

Canonicalisation is pure and idempotent (`canonical_url(canonical_url(u)) == canonical_url(u)`):
- scheme and host lower-cased, a trailing dot on the host dropped, default ports dropped
  (RFC 3986 §6.2.2.1 and §6.2.3), user info dropped (credentials never travel in an alert);
- an empty path becomes "/" (RFC 3986 §6.2.3); unsafe characters in the path percent-encoded;
- the fragment is dropped: it never selects a different article;
- tracking parameters (utm_*, fbclid, gclid, mc_cid, ...) removed; the other parameters keep
  their order and exact spelling;
- Google News and Google Alerts redirect links are unwrapped to the article they point to.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Parameters that identify a campaign or a click, never the article itself.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "igshid", "mc_cid", "mc_eid", "ref_src", "ref_url", "_hsenc", "_hsmi", "mkt_tok",
        "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "__twitter_impression",
        "cmpid", "ncid", "wt_mc", "wt_zmc", "soc_src", "soc_trk", "at_medium", "at_campaign",
        "s_cid",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_",)

# Redirect wrappers: host -> (path prefixes, query parameters holding the target, in order).
# Google Alerts: https://www.google.com/url?rct=j&sa=t&url=<target>&ct=ga&...
# Google News (older RSS): https://news.google.com/news/url?...&url=<target>
_WRAPPERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "www.google.com": (("/url",), ("url", "q")),
    "google.com": (("/url",), ("url", "q")),
    "news.google.com": (("/",), ("url",)),
}
_MAX_UNWRAP = 3  # a wrapper wrapping a wrapper is plausible; deeper is not

REDACTED = "***"
# A query parameter whose lower-cased name contains one of these carries a secret, or may.
_SECRET_NAME_PARTS = (
    "key", "token", "sig", "secret", "pass", "pwd", "auth", "session", "credential", "jwt",
    "hash", "code", "ticket", "hmac", "private",
)  # fmt: skip
_RANDOM_MIN = 16  # a value this long mixing letters and digits looks like a token

# RFC 3986 §3.3: pchar plus "/" and "%" (already-encoded octets stay as they are).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def is_http_url(url: str) -> bool:
    """True when `url` is an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url.strip())
        return parts.scheme.lower() in _DEFAULT_PORTS and bool(parts.hostname)
    except ValueError:
        return False


def canonical_url(url: str) -> str:
    """The canonical form of an http(s) URL; "" when `url` is not a usable http(s) URL."""
    current = url.strip()
    for _ in range(_MAX_UNWRAP + 1):
        canonical = _canonical_once(current)
        target = _unwrap(canonical)
        if target is None:
            return canonical
        current = target
    return _canonical_once(current)


def _canonical_once(url: str) -> str:
    if not is_http_url(url):
        return ""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        netloc = _netloc(scheme, parts.hostname or "", parts.port)
    except ValueError:  # a port that is not a number or out of range
        return ""
    path = quote(parts.path, safe=_PATH_SAFE) or "/"
    return urlunsplit((scheme, netloc, path, _clean_query(parts.query), ""))


def _netloc(scheme: str, hostname: str, port: int | None) -> str:
    host = hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal: urlsplit removed the brackets
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return host
    return f"{host}:{port}"


def _clean_query(query: str) -> str:
    kept = [pair for pair in query.split("&") if pair and not _is_tracking(pair)]
    return "&".join(kept)


def _is_tracking(pair: str) -> bool:
    name = unquote(pair.split("=", 1)[0]).lower()
    return name in _TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


def _unwrap(canonical: str) -> str | None:
    """The target of a known redirect wrapper, or None when `canonical` is not one."""
    if not canonical:
        return None
    parts = urlsplit(canonical)
    wrapper = _WRAPPERS.get(parts.hostname or "")
    if wrapper is None or not parts.path.startswith(wrapper[0]):
        return None
    params = dict(parse_qsl(parts.query))
    for name in wrapper[1]:
        target = params.get(name, "")
        if is_http_url(target):
            return target
    return None


@lru_cache(maxsize=4096)  # the same feed URLs, in every log line and metric label of a poll
def redact_url(url: str) -> str:
    """`url` with its credentials replaced by `***`: safe to log, to label a metric, to show."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        return "(unreadable URL)"
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{REDACTED}@{host}" if "@" in parts.netloc else host
    path = "/".join(REDACTED if _looks_random(seg, 20) else seg for seg in parts.path.split("/"))
    query = "&".join(_redact_pair(pair) for pair in parts.query.split("&") if pair)
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def _redact_pair(pair: str) -> str:
    name, equals, value = pair.partition("=")
    if not equals:
        return REDACTED if _looks_random(name, _RANDOM_MIN) else pair
    lowered = unquote(name).lower()
    if value and (
        any(part in lowered for part in _SECRET_NAME_PARTS) or _looks_random(value, _RANDOM_MIN)
    ):
        return f"{name}={REDACTED}"
    return pair


def _looks_random(text: str, min_length: int) -> bool:
    value = unquote(text)
    return (
        len(value) >= min_length
        and " " not in value
        and any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
    )
