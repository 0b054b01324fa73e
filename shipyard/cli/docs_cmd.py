"""`shipyard docs environments [--check]`."""

from __future__ import annotations

import click

from parity.environments_doc import render_environments_doc
from parity.run import ParityOptions, report_dict, run_parity
from shipyard.cli.common import short_lived_heap, sources_from
from shipyard.cli.output import stdout, working
from shipyard.errors import CheckFailed

DOC = "docs/environments.md"


@click.group()
def docs() -> None:
    """Documentation generated from the project itself."""


@docs.command("environments")
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 when docs/environments.md is not what it would be.",
)
@click.pass_context
def environments(ctx: click.Context, check: bool) -> None:
    """Write docs/environments.md: how the environments differ, and why.

    Generated from the parity report: every declared difference with its values per
    environment, its reason and owner (stacks/parity.yaml), and the stack file and key that
    set each value; undeclared differences first. `make test` runs it with --check.

    \b
    Examples:
      shipyard docs environments            write docs/environments.md
      shipyard docs environments --check    CI: fail when it is stale
    """
    sources = sources_from(ctx)
    with working("rendering every environment..."), short_lived_heap():
        report = run_parity(sources, ParityOptions())
    text = render_environments_doc(report_dict(report))
    target = sources.root / DOC
    current = target.read_text(encoding="utf-8") if target.is_file() else None
    if check:
        if current != text:
            raise CheckFailed(
                f"{DOC} is stale: run `shipyard docs environments` and commit the result"
            )
        stdout().print(f"{DOC}: up to date", markup=False)
        return
    if current == text:
        stdout().print(f"{DOC}: up to date", markup=False)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    stdout().print(f"{DOC}: written", markup=False)
