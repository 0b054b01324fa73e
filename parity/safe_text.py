"""Text from a stack made safe to show in a report, whatever it holds.

A value in a stack may hold anything: `<script>`, control characters, `|`, backticks, newlines.
`visible` turns the characters no report can carry (XML 1.0 forbids most C0 controls; a
terminal obeys C1 and escape sequences; U+2028 and U+2029 break lines; bidi marks and overrides
make text read differently than it is; zero-width characters hide a difference) into escapes
a person can read (`\\x07`, `\\n`, `\\u2028`, `\\u200b`); the Markdown and HTML helpers
escape what is left for their format.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

# C0 controls but tab, DEL and C1 (NEL, U+0085, among them), the line and paragraph separators
# (U+2028, U+2029: line breaks to str.splitlines, JavaScript and many viewers), lone surrogates,
# the two XML non-characters; bidi marks, embeddings, overrides and isolates (U+061C, U+200E,
# U+200F, U+202A..U+202E, U+2066..U+2069), which make text read differently than it is; and
# the zero-width characters (U+200B..U+200D, U+2060 word joiner, U+FEFF), which make two
# different values look the same.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060"
    "\u2066-\u2069\ud800-\udfff\ufeff\ufffe\uffff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if ord(char) <= 0xFF else f"\\u{ord(char):04x}"


def visible(text: str) -> str:
    """The text with every control, surrogate, non-character, bidi and zero-width character
    written as an escape."""
    return _INVISIBLE.sub(_escape_one, text)


def visible_report(value: Any) -> Any:
    """A copy of a JSON-shaped value with `visible` applied to every string, keys too."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible_report(k): visible_report(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible_report(v) for v in value]
    return value


# Backslash first, so the escapes added after it are not escaped again. `[` and `]` stay: a
# link needs `](` or a reference definition, and neither survives `(` escaped and no newline.
_MD_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "~": "\\~",
        "#": "\\#",
        "(": "\\(",
        ")": "\\)",
        "|": "\\|",
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
    }
)
_MD_LIST_MARK = re.compile(r"^(\s*)([-+=])")
_MD_ORDERED_MARK = re.compile(r"^(\s*\d+)\.")


def md_text(text: str) -> str:
    """Text shown as itself in Markdown: one line, no HTML, emphasis, link or table cell
    break, and nothing that would start a list or heading."""
    escaped = visible(str(text)).translate(_MD_ESCAPES)
    escaped = _MD_LIST_MARK.sub(r"\1\\\2", escaped, count=1)
    return _MD_ORDERED_MARK.sub(r"\1\\.", escaped, count=1)


def md_code(text: str) -> str:
    """Text in a Markdown code span: a fence longer than any run of backticks in it; pipes
    escaped, which a table cell needs even inside code."""
    text = visible(str(text)).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_PATH_BREAKS = re.compile(r"(?<=[.,/])|(?=\[)")


def html_path(path: str) -> Markup:
    """A path, HTML-escaped, with a line-break opportunity after each `.`, `,` and `/` and
    before each `[`, so a long path wraps where it reads well."""
    pieces = [piece for piece in _PATH_BREAKS.split(str(path)) if piece]
    return Markup("<wbr>").join(escape(piece) for piece in pieces)
