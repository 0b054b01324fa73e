"""Secret shapes and secret names that detect-secrets' plugins and keyword list do not cover.

shipyard.config.plain_secrets uses them beside detect-secrets; smoke and notifications use
`hide_userinfo` to print a URL without its credentials.
"""

from __future__ import annotations

import re

MASK = "[secret]"
# Shapes of a secret inside a value; group 1 is the secret.
SHAPES = (
    # scheme://:password@host (no user: detect-secrets' BasicAuthDetector wants one)
    ("URL Password", re.compile(r"://[^/\s:@]*:([^/\s@]+)@")),
    # An HTTP Authorization value (RFC 9110 section 11.6.2): the scheme, then the credentials.
    ("Authorization Header", re.compile(r"(?i)\b(?:bearer|basic|token|digest)\s+([^\s,]{8,})")),
    # ADO.NET / ODBC / JDBC connection strings: Password=...; Pwd=...
    (
        "Connection String Password",
        re.compile(r"(?i)\b(?:password|passwd|pwd)\s*=\s*([^;\s'\"]+)"),
    ),
)
# Secret names as a key's last word (GITHUB_TOKEN, MY_CREDENTIALS, PROXY_AUTH, DB_PASS), so
# AUTH_MODE or TOKEN_TTL are not secret-named.
LAST_WORDS = frozenset(
    {"auth", "credential", "credentials", "creds", "pass", "passphrase", "token"}
)
# Words of a key in any spelling: DB_PASSWORD, db:password, githubToken, HTTPAuth.
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# Values that are settings, not secrets, under a secret-named key.
_SETTINGS = frozenset(
    {"true", "false", "yes", "no", "on", "off", "none", "null", "enabled", "disabled"}
)
# An authority's userinfo (RFC 3986 section 3.2.1): what precedes the last "@" before the path,
# query or fragment.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://|)[^/?#]*@")


def key_words(key: str) -> list[str]:
    """A key's words, lowercased: DB_PASSWORD -> [db, password], githubToken -> [github, token]."""
    return [word.lower() for word in _WORDS.findall(key)]


def last_word_names_secret(key: str) -> bool:
    words = key_words(key)
    return bool(words) and words[-1] in LAST_WORDS


def secret_named(key: str) -> bool:
    """Whether a key names a secret (DB_PASSWORD, API_KEY, MY_CREDENTIALS, db:password)."""
    from detect_secrets.plugins.keyword import DENYLIST

    joined = "_".join(key_words(key))
    return last_word_names_secret(key) or any(re.search(d, joined) for d in DENYLIST)


def is_setting(value: str) -> bool:
    """A flag or a number: what a secret-named key holds when it is not the secret itself."""
    return value.lower() in _SETTINGS or value.isdigit()


def hide_userinfo(url: str) -> str:
    """url with its user:password@ shown as [secret]@."""
    return _USERINFO.sub(rf"\1{MASK}@", url, count=1)
