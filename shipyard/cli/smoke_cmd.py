"""`shipyard smoke URL`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import click

from shipyard.cli.common import format_option
from shipyard.cli.deploy_cmd import platform_options
from shipyard.cli.output import emit_json, stdout
from shipyard.config.secret_shapes import hide_userinfo
from shipyard.errors import CheckFailed, UsageError
from smoke import SmokeReport, load_spec, run_smoke


@click.command()
@click.argument("url", required=False)
@click.option(
    "--env",
    "environment",
    metavar="ENV",
    help="Instead of URL: the service's URL in ENV (local platform, or --platform aws).",
)
@click.option(
    "--idle",
    is_flag=True,
    help="With --env: the test URL, which reaches the idle color (before it takes traffic).",
)
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(dir_okay=False),
    help="Smoke spec YAML. Default: the spec that ships with shipyard (smoke/default.yaml).",
)
@click.option("--expect-version", metavar="V", help="The version the target must report.")
@click.option("--service", metavar="S", help="Use the spec's checks for this service.")
@platform_options
@format_option("text", "json", "junit")
@click.pass_context
def smoke(
    ctx: click.Context,
    url: str | None,
    environment: str | None,
    idle: bool,
    spec_path: str | None,
    expect_version: str | None,
    service: str | None,
    platform: str,
    endpoint_url: str | None,
    stack_outputs: Path | None,
    output_format: str,
) -> None:
    """Run smoke checks against URL (a color's test port before it takes traffic).

    Each check is retried with backoff (for warm-up) until it passes or its attempts run
    out. Exit 0 when every check passes; 1 listing each failed check and what was seen;
    2 on a bad spec (file and path named).

    \b
    Examples:
      shipyard smoke http://127.0.0.1:9000 --expect-version v2
      shipyard smoke https://staging.example.com --spec smoke/web.yaml --format junit
      shipyard smoke --env dev --service web --expect-version v2
      shipyard smoke --env prod --service web --platform aws --stack-outputs prod.json
    """
    if (url is None) == (environment is None):
        raise UsageError("give a URL or --env ENV (with --service when ENV has several)")
    if idle and environment is None:
        raise UsageError("--idle goes with --env: a URL is smoke-tested as given")
    if environment is not None:
        url = _service_url(ctx, environment, service, idle, platform, endpoint_url, stack_outputs)
    assert url is not None
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"URL must start with http:// or https:// (got {hide_userinfo(url)!r})")
    spec = load_spec(Path(spec_path) if spec_path else None)
    report = run_smoke(url, spec, expect_version=expect_version, service=service)
    if output_format == "json":
        emit_json(report.to_dict())
    elif output_format == "junit":
        click.echo(_junit(report), nl=False)
    else:
        out = stdout()
        for result in report.results:
            mark = "pass" if result.passed else "FAIL"
            seen = f"{result.status or '-'} in {result.latency_ms or 0:.0f} ms"
            out.print(
                f"{mark} {result.name}: {result.url} ({seen}, {result.attempts} attempt(s))",
                markup=False,
            )
            for problem in result.problems:
                out.print(f"     {problem}", markup=False)
    if not report.passed:
        names = ", ".join(r.name for r in report.failures)
        raise CheckFailed(f"smoke failed at {report.url}: {names}")


def _service_url(
    ctx: click.Context,
    environment: str,
    service_name: str | None,
    idle: bool,
    platform: str,
    endpoint_url: str | None,
    stack_outputs: Path | None,
) -> str:
    from rollout.deploy import choose_service
    from shipyard.cli.common import sources_from
    from shipyard.cli.deploy_cmd import platform_from
    from shipyard.config.load import load_stack

    sources = sources_from(ctx)
    sources.require_environment(environment)
    service = choose_service(load_stack(sources, environment).config, service_name, environment)
    where = platform_from(ctx, sources, environment, platform, endpoint_url, stack_outputs)
    return where.urls(service)["test" if idle else "production"]


def _junit(report: SmokeReport) -> str:
    suite = ET.Element(
        "testsuite",
        name=f"smoke {report.url}",
        tests=str(len(report.results)),
        failures=str(len(report.failures)),
    )
    for result in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname="smoke",
            name=result.name,
            time=f"{(result.latency_ms or 0) / 1000:.3f}",
        )
        if not result.passed:
            failure = ET.SubElement(case, "failure", message="; ".join(result.problems))
            failure.text = f"{result.url} after {result.attempts} attempt(s)"
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
