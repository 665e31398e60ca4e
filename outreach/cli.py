"""The `outreach` command: every command is declared in COMMANDS below.

Command modules import what a command uses only when it runs, so that `outreach --help`, `discover`,
`verify` and `contacts find` start fast (DESIGN.md).
"""
from __future__ import annotations

import click

from outreach.accounts.cli import user
from outreach.analytics.cli import traffic
from outreach.backlinks.cli import verify
from outreach.campaigns.imports.cli import import_csv
from outreach.contacts.cli import contacts
from outreach.demo.cli import demo
from outreach.discovery.broken_links.cli import broken_links
from outreach.discovery.cli import discover
from outreach.discovery.guest_posts.cli import guest_posts
from outreach.discovery.mentions.cli import mentions
from outreach.runtime.cli import db, run, scheduler, web, worker

#: every command of `outreach`
COMMANDS: list[click.Command] = [run, web, scheduler, worker, db, user, import_csv, contacts, verify, discover,
                                 demo, traffic]
#: `outreach discover ...`: one command per kind of opportunity
DISCOVER_COMMANDS: list[click.Command] = [broken_links, guest_posts, mentions]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="OUTREACH_CONFIG", type=click.Path(dir_okay=False),
              help="TOML configuration file (also OUTREACH_CONFIG).")
@click.version_option(package_name="outreach")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Outreach: find link opportunities, contact sites, verify the links you win."""
    ctx.obj = {"config_path": config_path}


for command in COMMANDS:
    main.add_command(command)
for command in DISCOVER_COMMANDS:
    discover.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
