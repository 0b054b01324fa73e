"""The `shipyard` command line: parse, call a library function, render its result."""

from __future__ import annotations

import sys

import click

from shipyard import __version__
from shipyard.cli.approve_cmd import approve_command, promote_command, reject_command
from shipyard.cli.demo_cmd import demo
from shipyard.cli.deploy_cmd import (
    deploy_command,
    ledger_group,
    rollback_command,
    scale_down_command,
    status_command,
)
from shipyard.cli.docs_cmd import docs
from shipyard.cli.drift_cmd import drift
from shipyard.cli.local_cmd import local
from shipyard.cli.metrics_cmd import metrics_command
from shipyard.cli.parity_cmd import parity
from shipyard.cli.render_cmd import render
from shipyard.cli.smoke_cmd import smoke
from shipyard.cli.stacks_cmd import stacks
from shipyard.errors import ShipyardError

# click >= 8.2 raises this for a bare group; older versions print help themselves.
NO_ARGS_IS_HELP: tuple[type[Exception], ...] = tuple(
    t for t in [getattr(click.exceptions, "NoArgsIsHelpError", None)] if t is not None
)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--project-dir",
    envvar="SHIPYARD_PROJECT_DIR",
    type=click.Path(file_okay=False),
    help="The project (Pulumi.yaml + stacks/). Default: the nearest parent of the current "
    "directory that has them. Env: SHIPYARD_PROJECT_DIR.",
)
@click.version_option(__version__, prog_name="shipyard")
@click.pass_context
def cli(ctx: click.Context, project_dir: str | None) -> None:
    """Deploy services to AWS blue-green, from one template for dev, staging and prod.

    \b
    Start here:
      shipyard demo                 the whole job on this machine, in about a minute
      shipyard stacks render        write Pulumi.<env>.yaml from stacks/
      shipyard render dev           dev's full resource graph, rendered offline
      shipyard parity               how alike dev, staging and prod are, and why not
    \b
    Every day:
      shipyard local up dev                           dev on this machine (HAProxy)
      shipyard deploy dev --version v2 --service web  blue-green with automatic rollback
      shipyard rollback dev --service web             instant while the old color is warm
      shipyard scale-down dev --wait                  retire it once that window has passed
      shipyard approve prod --release web@v2#3f9c2e1  a reviewer's vote (prod needs two)
      shipyard promote dev staging                    what is live in dev, through the gate
      shipyard status dev / metrics / ledger verify   what happened, from the ledger
      shipyard deploy dev --platform aws ...          the same on AWS (docs/aws.md)

    Exit codes: 0 success; 1 a check said no; 2 bad input (nothing changed).
    """
    ctx.obj = {"project_dir": project_dir}


cli.add_command(stacks)
cli.add_command(docs)
cli.add_command(render)
cli.add_command(parity)
cli.add_command(drift)
cli.add_command(local)
cli.add_command(smoke)
cli.add_command(deploy_command)
cli.add_command(rollback_command)
cli.add_command(scale_down_command)
cli.add_command(status_command)
cli.add_command(ledger_group)
cli.add_command(approve_command)
cli.add_command(reject_command)
cli.add_command(promote_command)
cli.add_command(metrics_command)
cli.add_command(demo)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors become one line on stderr and an exit code, never a traceback."""
    try:
        cli.main(args=argv, prog_name="shipyard", standalone_mode=False)
    except ShipyardError as exc:
        click.echo(f"shipyard: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        if isinstance(exc, NO_ARGS_IS_HELP) and exc.ctx is not None:
            click.echo(exc.ctx.get_help(), err=True)
            sys.exit(2)
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        click.echo(f"shipyard: {exc.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("shipyard: aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(0)


if __name__ == "__main__":
    main()
