"""`shipyard drift ENV`."""

from __future__ import annotations

import click

from parity.drift import run_drift
from parity.live import AwsClients
from parity.render import render_stack, stack_config_values
from shipyard.cli.common import format_option, short_lived_heap, sources_from
from shipyard.cli.output import emit_json, stdout, working
from shipyard.config.pulumi_config import REGION_KEY
from shipyard.errors import CheckFailed


@click.command()
@click.argument("env")
@click.option(
    "--endpoint-url",
    metavar="URL",
    help="Talk to this AWS-compatible endpoint (moto server, LocalStack) instead of AWS. "
    "Without credentials configured, the emulator gets dummy ones.",
)
@format_option("text", "json")
@click.pass_context
def drift(ctx: click.Context, env: str, endpoint_url: str | None, output_format: str) -> None:
    """Compare ENV's rendered stack with what is live in AWS.

    Reads, never writes: load balancers and their listeners (port, protocol, forward
    weights), target groups (health check, deregistration delay), ECS services (desired
    count, image) and CloudWatch alarms (metric, threshold, wiring). Reports what is
    missing, extra or changed. Exit 0 no drift; 1 drift; 2 bad input or AWS unreachable.

    \b
    Examples:
      shipyard drift prod
      shipyard drift dev --endpoint-url http://127.0.0.1:5000 --format json
    """
    sources = sources_from(ctx)
    sources.require_environment(env)
    region = str(stack_config_values(sources, env).get(REGION_KEY, "us-east-1"))
    with working(f"rendering {env}..."), short_lived_heap():
        stack = render_stack(sources, env)
    clients = AwsClients.connect(region, endpoint_url, env)
    with working("reading live AWS..."):
        report = run_drift(stack, clients)
    if output_format == "json":
        emit_json(report.to_dict())
    else:
        out = stdout()
        checked = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in report.checked.items())
        out.print(f"{env}: checked {checked}", markup=False)
        for item in report.items:
            out.print(f"  {item.kind:8} {item.line()}", markup=False)
        if not report.drifted:
            out.print(f"{env}: no drift", markup=False)
    if report.drifted:
        raise CheckFailed(f"{env} has drifted: {len(report.items)} difference(s) from its stack")
