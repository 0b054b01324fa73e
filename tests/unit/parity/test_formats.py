"""The report formats on reports built by hand: each opens with the verdict and what needs
attention, and shows any value a stack can hold as text, never as markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from markdown_it import MarkdownIt

from parity.formats import (
    Report,
    cell_text,
    render_html,
    render_junit,
    render_markdown,
    render_text,
)
from parity.policy import share_text
from parity.safe_text import html_path, md_code, visible
from tests.unit.parity.html_page import Page
from tests.unit.parity.report_factory import (
    CATCH_ALL_DETAIL,
    CONTROLS,
    HOSTILE,
    SCRIPT,
    difference,
    failing_report,
    hostile_report,
    report,
    resource,
    rule,
)

APP_ENV = "web-live-task.containerDefinitions[name=web].environment[name=APP_ENV].value"
LOG_LEVEL = "web-live-task.containerDefinitions[name=web].environment[name=LOG_LEVEL].value"
HTML_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "span", "ul", "li",
    "strong", "em", "br", "wbr", "table", "tr", "th", "td",
}  # fmt: skip
MARKDOWN_TAGS = {
    "h2", "h3", "p", "strong", "ul", "li", "blockquote", "table", "thead", "tbody", "tr", "th",
    "td", "code", "details", "summary",
}  # fmt: skip


def github_markdown(text: str) -> Page:
    """The Markdown rendered close to how GitHub renders a job summary: CommonMark with tables,
    strikethrough and inline HTML."""
    renderer = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    return Page(renderer.render(text))


# HTML


def test_html_shows_every_value_as_text_and_runs_nothing() -> None:
    html = render_html(hostile_report())
    page = Page(html)
    assert {tag for tag, _ in page.tags} <= HTML_TAGS
    assert not [name for _, attrs in page.tags for name in attrs if name.startswith("on")]
    assert [tag for tag, _ in page.tags].count("style") == 1
    # Escaped, not dropped: a person reads the value, control characters as escapes.
    assert SCRIPT in page.text
    assert visible(HOSTILE) in page.text
    assert not any(char in html for char in CONTROLS if char not in "\n")


def test_html_opens_with_the_verdict_then_what_needs_attention() -> None:
    page = Page(render_html(failing_report()))
    blocks = page.body_blocks()
    assert blocks[0].tag == "h1"
    assert blocks[0].attrs == {"id": "verdict", "class": "fail"}
    assert " ".join(blocks[0].text.split()) == "FAIL: parity 90.00% (minimum 95%)"
    score = next(attrs for tag, attrs in page.tags if attrs.get("id") == "score")
    assert score == {"id": "score", "class": "score"}
    texts = [b.text for b in blocks[:4]]
    assert texts[1].startswith("critical path " + APP_ENV)  # the failures
    assert "rule * (web-team) is a catch-all" in texts[3]
    totals = " ".join(next(b for b in blocks if b.attrs.get("id") == "totals").text.split())
    assert totals.startswith("40 settings: 35 identical, 1 declared, 4 undeclared")
    tables = [b.attrs["id"] for b in blocks if b.tag == "table"]
    assert tables == ["attention", "pairs", "resources", "declared", "rules"]
    rows = page.table("attention").rows[1:]
    assert [(klass, cells[0]) for klass, cells in rows] == [
        ("undeclared critical", APP_ENV),
        ("undeclared", LOG_LEVEL),
        ("missing", "stack-config.deploy.bakeSeconds"),
        ("undeclared", "stack-outputs.vpcId"),
    ]
    assert rows[0][1][1:4] == ["dev", "staging", "staging"]
    assert rows[0][1][4] == "critical undeclaredprod names staging"
    assert rows[2][1][2] == "—"
    declared = page.table("declared").rows[1:]
    assert [cells[0] for _, cells in declared] == ["web-live-tg.deregistrationDelay"]


def test_html_says_when_nothing_needs_attention() -> None:
    declared = difference("web-live-tg.port", {"dev": 80, "staging": 80, "prod": 443}, "declared")
    page = Page(render_html(report([declared])))
    blocks = page.body_blocks()
    assert " ".join(blocks[0].text.split()) == "PASS: parity 100.00% (minimum 90%)"
    attention = next(b for b in blocks if b.attrs.get("id") == "attention")
    assert attention.tag == "p"
    assert attention.text == "Nothing: every difference is declared in stacks/parity.yaml."


def test_html_paths_wrap_at_dots_and_brackets_in_monospace() -> None:
    html = render_html(failing_report())
    assert (
        '<td class="path">web-live-task.<wbr>containerDefinitions<wbr>[name=web].<wbr>'
        "environment<wbr>[name=APP_ENV].<wbr>value</td>"
    ) in html
    assert "break-all" not in html
    assert ".path, .name, td.value { font-family: ui-monospace" in html
    assert html_path("a.<b>[x]") == "a.<wbr>&lt;b&gt;<wbr>[x]"


# Markdown


def test_markdown_shows_every_value_as_text() -> None:
    made = hostile_report()
    text = render_markdown(made)
    page = github_markdown(text)
    assert {tag for tag, _ in page.tags} <= MARKDOWN_TAGS  # no link, image, emphasis, script
    assert not any(char in text for char in CONTROLS if char != "\n")
    assert "&lt;script&gt;" in text
    envs = made["environments"]
    attention = next(b for b in page.blocks if b.tag == "table")
    assert attention.rows[0][1] == ["path", *[visible(e) for e in envs], "class", "why / source"]
    (critical_path, *values, klass, _), (missing_path, *_) = [
        cells for _, cells in attention.rows[1:]
    ]
    # What a reader sees is the value itself: the path in code, the rest as plain text.
    first = made["differences"][0]
    assert critical_path == visible(first["path"])
    assert values == [cell_text(first, env) for env in envs]
    assert values[0] == visible(first["values"]["dev"])
    assert klass == f"undeclared critical (prod names {visible(envs[1])})"
    assert missing_path == visible(made["differences"][2]["path"])


def test_markdown_opens_with_the_verdict_then_what_needs_attention() -> None:
    text = render_markdown(failing_report())
    lines = text.splitlines()
    assert lines[0] == "## ❌ FAIL: parity 90.00% (minimum 95%)"
    headings = [line for line in lines if line.startswith(("#", "<details>", "> "))]
    assert headings[1:] == [
        "> **Warning:** rule \\* \\(web-team\\) is a catch-all: matches 45.0% of all settings "
        "\\(more than 10%\\), so it declares nothing: name the resources and properties it is "
        "for; the differences it matches count as undeclared",
        "### Needs attention (4)",
        "### Pairs",
        "### Rules needing attention",
        "<details><summary>1 declared differences</summary>",
    ]
    page = github_markdown(text)
    assert [b.text for b in page.blocks if b.tag == "li"][:2] == [
        f"critical path {APP_ENV}: undeclared",
        "parity 90.00% is below the minimum 95%",
    ]
    attention, _, declared = [b for b in page.blocks if b.tag == "table"]
    assert [cells[0] for _, cells in attention.rows[1:]] == [
        APP_ENV,
        LOG_LEVEL,
        "stack-config.deploy.bakeSeconds",
        "stack-outputs.vpcId",
    ]
    assert attention.rows[1][1][4] == "undeclared critical (prod names staging)"
    assert [cells[0] for _, cells in declared.rows[1:]] == ["web-live-tg.deregistrationDelay"]


@pytest.mark.parametrize("failure", ["- a list", "# a heading", "1. a list", "+ a", "> quote"])
def test_markdown_failure_lines_stay_one_plain_list_item(failure: str) -> None:
    made = report([], failures=[failure])
    page = github_markdown(render_markdown(made))
    items = [b for b in page.blocks if b.tag == "li"]
    assert [b.text for b in items] == [failure]
    assert {tag for tag, _ in page.tags} <= MARKDOWN_TAGS


def test_markdown_code_span_outlasts_the_backticks_it_holds() -> None:
    for path in ("a`b", "``x``", "`", "a|b"):
        cell = github_markdown(f"| p |\n|---|\n| {md_code(path)} |\n")
        assert cell.blocks[0].rows[1][1] == [path]


# JUnit


def test_junit_is_well_formed_whatever_a_value_holds() -> None:
    made = hostile_report()
    suite = ET.fromstring(render_junit(made))
    cases = suite.findall("testcase")
    assert suite.get("tests") == str(len(cases)) == "4"
    assert [c.get("name") for c in cases] == [
        "verdict",
        "web-live-task",
        visible(HOSTILE),
        "stack-config",
    ]
    verdict_failure = cases[0].find("failure")
    assert verdict_failure is not None
    assert verdict_failure.text == visible(made["failures"][0])
    failure = cases[1].find("failure")
    assert failure is not None and failure.text is not None
    assert failure.get("type") == "critical"
    assert failure.text.startswith(f"CRITICAL {visible(made['differences'][0]['path'])}: ")
    assert "]]>" in failure.text and SCRIPT in failure.text and "\\x07" in failure.text
    assert cases[1].get("classname") == f"parity.{visible('t' + HOSTILE)}"


@pytest.mark.parametrize("char", list(CONTROLS), ids=lambda c: f"U+{ord(c):04X}")
def test_junit_writes_each_control_character_as_an_escape(char: str) -> None:
    value = f"a{char}]]>b"
    made = report([difference(f"app.{value}", {"dev": value, "staging": "s", "prod": "p"})])
    suite = ET.fromstring(render_junit(made))
    failure = suite.find("testcase[@name='app']/failure")
    assert failure is not None
    shown = visible(value)
    assert shown != value and shown.startswith("a\\")
    assert failure.text == f"app.{shown}: undeclared: dev={shown}, staging=s, prod=p"


def test_junit_marks_critical_differences_and_cases_every_resource() -> None:
    suite = ET.fromstring(render_junit(failing_report()))
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == [
        "verdict",
        "web-live-task",
        "web-live-tg",
        "stack-config",
        "stack-outputs",
    ]
    assert suite.get("tests") == "5"
    assert suite.get("failures") == "4"
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties == {
        "score": "90.0",
        "raw_identity": "87.5",
        "min_score": "95.0",
        "passed": "False",
    }
    failures = {name: case.find("failure") for name, case in cases.items()}
    assert failures["web-live-tg"] is None
    task = failures["web-live-task"]
    assert task is not None and task.text is not None
    assert task.get("type") == "critical"
    assert task.get("message") == "2 undeclared or missing, 1 critical; parity 77.78%"
    assert task.text.splitlines() == [
        f"CRITICAL {APP_ENV}: undeclared (prod names staging): dev=dev, staging=staging, "
        "prod=staging",
        f"{LOG_LEVEL}: undeclared: dev=debug, staging=info, prod=info",
    ]
    config = failures["stack-config"]
    assert config is not None and config.get("type") == "undeclared"
    assert config.text == "stack-config.deploy.bakeSeconds: missing: dev=60, staging=—, prod=600"
    assert failures["stack-outputs"] is not None
    verdict = failures["verdict"]
    assert verdict is not None and verdict.get("message") == "FAIL: parity 90.00% (minimum 95%)"


def test_junit_cases_a_difference_whose_resource_is_not_listed() -> None:
    stray = difference("stack-file:Pulumi.prod.yaml", {"dev": "a", "prod": "b"}, critical=True)
    made = report([stray], resources=[resource("web-live-tg")])
    suite = ET.fromstring(render_junit(made))
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == ["verdict", "web-live-tg", "stack-file:Pulumi"]
    assert suite.get("failures") == "2"


# Text


def test_text_opens_with_the_verdict_and_the_settings_counts() -> None:
    text = render_text(failing_report())
    lines = text.splitlines()
    assert lines[:3] == [
        "FAIL: parity 90.00% (minimum 95%) across dev, staging, prod",
        f"fail: critical path {APP_ENV}: undeclared",
        "fail: parity 90.00% is below the minimum 95%",
    ]
    catch_all, _, rest = text.split("\n", 3)[3].partition("\n40 settings: ")
    assert " ".join(catch_all.split()) == (  # wrapped at the console's width
        f"rule * (web-team) is a catch-all: {CATCH_ALL_DETAIL}; the differences it matches "
        "count as undeclared"
    )
    assert rest.startswith(
        "35 identical, 1 declared, 4 undeclared (raw identity 87.50%); 5 differences, 1 critical\n"
    )
    table = text[text.index("needs attention") : text.index("pairs")]
    assert table.index("APP_ENV") < table.index("LOG_LEVEL") < table.index("bakeSeconds")
    assert "undeclared, critical, prod names staging" in table
    assert lines[-2:] == [
        f"rule * (web-team): catch-all: {CATCH_ALL_DETAIL}",
        "rule gone-*.x (web-team): stale: matches no path",
    ]


@pytest.mark.parametrize("color", [False, True])
def test_text_shows_markup_and_control_characters_as_text(color: bool) -> None:
    value = "[bold]x[/bold] :thumbs_up: a\x1b[31mred\x07"
    made = report([difference("app.x", {"dev": value, "staging": "b", "prod": "c"})])
    text = render_text(made, color)
    assert "[bold]x[/bold] :thumbs_up: a\\x1b[31mred\\x07" in text
    assert "\x1b[31mred" not in text and "\x07" not in text


@pytest.mark.parametrize(
    ("char", "escape"),
    [("\x85", "\\x85"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")],
    ids=["NEL", "LINE-SEPARATOR", "PARAGRAPH-SEPARATOR"],
)
def test_unicode_line_breaks_are_escaped_in_every_format(char: str, escape: str) -> None:
    # Line breaks outside C0: a JavaScript string, str.splitlines and many viewers end a line
    # at each, so a value holding one would split its row as a raw newline would.
    value = f"a{char}b"
    assert visible(value) == f"a{escape}b"
    made = report([difference(f"app.{value}", {"dev": value, "staging": "s", "prod": "p"})])
    for name, text in every_format(made).items():
        assert char not in text, name
        assert f"a{escape}b" in text, name


def every_format(made: Report) -> dict[str, str]:
    """The report in every format that escapes (JSON is data)."""
    return {
        "text": render_text(made, False),
        "color text": render_text(made, True),
        "html": render_html(made),
        "markdown": render_markdown(made),
        "junit": render_junit(made),
    }


# Zero-width characters make two different values look the same; bidi marks, embeddings,
# overrides and isolates make a value read differently than it is ("Trojan Source").
INVISIBLE = [
    *"\u200b\u200c\u200d\u2060\ufeff",
    *"\u200e\u200f\u061c",
    *(chr(c) for c in range(0x202A, 0x202F)),
    *(chr(c) for c in range(0x2066, 0x206A)),
]


@pytest.mark.parametrize("char", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
def test_zero_width_and_bidi_characters_are_escaped_in_every_format(char: str) -> None:
    escape = f"\\u{ord(char):04x}"
    value = f"prod{char}db"
    assert visible(value) == f"prod{escape}db"
    made = report(
        [difference(f"app.{value}", {"dev": value, "staging": "s", "prod": "p"})],
        rules=[rule(f"app.{value}", "catch-all", detail=CATCH_ALL_DETAIL)],
    )
    made["failures"] = [f"critical path app.{value} is undeclared"]
    for name, text in every_format(made).items():
        assert char not in text, name
        assert f"prod{escape}db" in text.replace("<wbr>", ""), name


def test_every_format_lists_a_catch_all_rule_near_the_verdict() -> None:
    made = report([], rules=[rule("*", "catch-all", detail=CATCH_ALL_DETAIL)])
    said = (
        f"rule * (web-team) is a catch-all: {CATCH_ALL_DETAIL}; the differences it matches "
        "count as undeclared"
    )
    for render in (render_text, render_markdown):
        head = " ".join(render(made).replace("\\", "").splitlines()[:5])
        assert said in " ".join(head.split()), head
    blocks = Page(render_html(made)).body_blocks()
    assert blocks[1].attrs["class"] == "alarm catch-all"
    assert " ".join(blocks[1].text.split()) == said


def test_no_format_says_a_catch_all_declares_what_it_matches() -> None:
    """It declares nothing: what it matches is undeclared, and no format says otherwise."""
    made = failing_report()
    for render in (render_text, render_markdown, render_html):  # JUnit: only the failures
        text = render(made)
        assert "declares nothing" in text and "counts as declared" not in text, render


@pytest.mark.parametrize(
    ("share", "shown"),
    [(0.1001, "10.1%"), (0.10049, "10.1%"), (0.45, "45.0%"), (0.5, "50.0%"), (0.7201, "72.1%")],
)
def test_a_breadth_share_has_one_decimal_and_never_reads_as_its_limit(
    share: float, shown: str
) -> None:
    # "matches 10% of all settings (more than 10%)" read as a contradiction: one decimal,
    # rounded up, so a share over the limit always reads as over it.
    assert share_text(share) == shown
