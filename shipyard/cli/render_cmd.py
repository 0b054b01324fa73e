"""`shipyard render ENV`."""

from __future__ import annotations

import click

from parity.render import render_stack
from shipyard.cli.common import short_lived_heap, sources_from
from shipyard.cli.output import check_output, warn, write_output
from shipyard.config.load import StackSources
from shipyard.stacks import plan_stack_files


@click.command()
@click.argument("env")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "yaml"]),
    default="json",
    show_default=True,
    help="json is stable and byte-identical across runs.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write here instead of stdout; never over the project's inputs (stacks/, "
    "Pulumi.yaml, Pulumi.<env>.yaml, __main__.py).",
)
@click.pass_context
def render(ctx: click.Context, env: str, output_format: str, output: str | None) -> None:
    """Print ENV's full resource graph, rendered under Pulumi's mocks: no CLI, no cloud.

    Runs the real Pulumi program (__main__.py) with Pulumi.ENV.yaml's config, the way
    `pulumi up -s ENV` would, and records every resource's type, logical name, parent and
    inputs. Secrets, and anything secret-shaped (a password in a URL, an AWS key),
    appear as "[secret]".

    \b
    Shape: {"project", "stack", "resources": [{"type", "name", "parent", "inputs"}],
            "outputs"}, resources sorted by (type, name).
    """
    sources = sources_from(ctx)
    sources.require_environment(env)
    if output:
        check_output(output, sources.root)  # before the render, not only before the write
    with short_lived_heap():
        rendered = render_stack(sources, env)
    warn_if_stale(sources, env)
    text = rendered.to_json() if output_format == "json" else rendered.to_yaml()
    if output:
        write_output(output, text, sources.root)
    else:
        click.echo(text, nl=False)


def warn_if_stale(sources: StackSources, env: str) -> None:
    for file in plan_stack_files(sources, [env]):
        if file.stale:
            warn(
                f"{file.path} is stale ({file.first_difference()}); rendering it as it is. "
                "Run `shipyard stacks render` to update it."
            )
