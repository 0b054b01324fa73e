"""`shipyard stacks render [--check]`."""

from __future__ import annotations

import click

from rollout.readiness import aws_warnings
from shipyard.cli.common import format_option, sources_from
from shipyard.cli.output import emit_json, stdout, warn
from shipyard.config.load import load_stack
from shipyard.errors import CheckFailed
from shipyard.stacks import plan_stack_files, write_stack_files


@click.group()
def stacks() -> None:
    """Generate Pulumi.<env>.yaml from stacks/template.yaml.j2 and stacks/<env>.yaml."""


@stacks.command("render")
@click.argument("envs", nargs=-1, metavar="[ENV]...")
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 naming each stale Pulumi.<env>.yaml and its first differing key.",
)
@format_option("text", "json")
@click.pass_context
def render_stacks(
    ctx: click.Context, envs: tuple[str, ...], check: bool, output_format: str
) -> None:
    """Validate every environment, then write its Pulumi.<env>.yaml.

    Every environment is validated before anything is written, so one bad file changes
    nothing. Default: all environments in stacks/.

    Only the file's header and `config:` are written and checked; Pulumi's own stack settings
    beside them (secretsprovider, encryptedkey, encryptionsalt, environment) are kept as they
    are. A `config:` key that stacks/ does not render (a `pulumi config set`) is never dropped:
    exit 2 until it is under `pulumiConfig:` in stacks/<env>.yaml or deleted.

    Stacks do not say which platform deploys them, so what cannot work on AWS (a bake shorter
    than ALB metrics take to arrive, a readyTimeoutSeconds shorter than the target group's
    health checks, probe traffic too slow to reach analysis.minRequests) is a `warning:` line
    on stderr (exit 0, with or without --check; under "warnings" in JSON).

    \b
    Examples:
      shipyard stacks render              write all stale stack files
      shipyard stacks render --check      CI: fail when a stack file is stale
    """
    sources = sources_from(ctx)
    for env in envs:
        sources.require_environment(env)
    files = plan_stack_files(sources, list(envs) or None)
    stale = [f for f in files if f.stale]
    warnings = [
        f"stacks/{f.env}.yaml: {problem}"
        for f in files
        for problem in aws_warnings(load_stack(sources, f.env).config)
    ]
    if not check:
        write_stack_files(sources, files)
    if output_format == "json":
        emit_json(
            {
                "check": check,
                "files": [
                    {
                        "environment": f.env,
                        "path": f.path,
                        "stale": f.stale,
                        "written": f.stale and not check,
                        "difference": f.first_difference() if f.stale else None,
                    }
                    for f in files
                ],
                "warnings": warnings,
            }
        )
    else:
        out = stdout()
        for f in files:
            if not f.stale:
                out.print(f"{f.path}: up to date", markup=False)
            elif check:
                out.print(f"{f.path}: stale ({f.first_difference()})", markup=False)
            else:
                out.print(f"{f.path}: written ({f.first_difference()})", markup=False)
    for warning in warnings:
        warn(warning)
    if check and stale:
        names = ", ".join(f.path for f in stale)
        raise CheckFailed(f"stale: {names}; run `shipyard stacks render` and commit the result")
