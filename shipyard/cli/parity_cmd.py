"""`shipyard parity [ENV ...]`."""

from __future__ import annotations

import datetime as dt

import click

from parity.formats import RENDERERS
from parity.run import ParityOptions, report_dict, run_parity
from shipyard.cli.common import short_lived_heap, sources_from
from shipyard.cli.output import check_output, is_terminal, progress, working, write_output
from shipyard.errors import CheckFailed


@click.command()
@click.argument("envs", nargs=-1, metavar="[ENV]...")
@click.option(
    "--min-score",
    type=float,
    help="Fail below this parity percentage. Default: minScore in stacks/parity.yaml (90).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(list(RENDERERS)),
    default="text",
    show_default=True,
    help="text for people, json for scripts, markdown for a CI job summary, html for one "
    "self-contained page, junit for test dashboards.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the report here instead of stdout; never over the project's inputs "
    "(stacks/, Pulumi.yaml, Pulumi.<env>.yaml, __main__.py).",
)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Judge rule expiry as of this date (default: today).",
)
@click.pass_context
def parity(
    ctx: click.Context,
    envs: tuple[str, ...],
    min_score: float | None,
    output_format: str,
    output: str | None,
    today: dt.datetime | None,
) -> None:
    """Score how alike the environments are, and explain every difference.

    Renders each environment's stack under Pulumi mocks and loads its stack config,
    normalises both (each stack's own name becomes {env}; colors become live/idle roles;
    lists are keyed by name or compared as multisets; JSON and image tags are split out),
    and compares every pair of environments with deepdiff. A difference is declared when a
    live rule in stacks/parity.yaml allows it, undeclared otherwise; a path only some
    environments have is missing. A value that names another environment (prod reading
    staging's secret) is undeclared and critical unless a crossEnvironment allowance covers
    it. A hand-edited Pulumi.<env>.yaml is an undeclared critical difference.

    \b
    parity = (identical + declared) / settings;  raw identity = identical / settings
    (a setting: a resource property, a tag key, a stack-config key, an output; docs/parity.md)

    Exit 0 when parity >= the minimum, no critical path differs undeclared and no rule is a
    catch-all; 1 otherwise (the reasons are listed); 2 on bad input. Default: every
    environment in stacks/.

    \b
    Examples:
      shipyard parity                                  all environments, a table
      shipyard parity staging prod --min-score 95
      shipyard parity --format html -o parity.html     one page to share
      shipyard parity --format markdown >> "$GITHUB_STEP_SUMMARY"
    """
    sources = sources_from(ctx)
    if output:
        check_output(output, sources.root)  # before the work, not only before the write
    options = ParityOptions(
        environments=list(envs),
        min_score=min_score,
        today=today.date() if today else None,
    )
    with working("rendering and comparing stacks..."), short_lived_heap():
        report = run_parity(sources, options)
    data = report_dict(report)
    color = output is None and output_format == "text" and is_terminal()
    text = RENDERERS[output_format](data, color)
    if output:
        write_output(output, text, sources.root)
        progress(f"wrote {output}: parity {data['score']}")
    else:
        click.echo(text, nl=False)
    if not report.passed:
        raise CheckFailed("parity check failed: " + "; ".join(report.failures))
