"""The `outreach` command. Subcommands load lazily so that `discover` and `verify` start fast."""
from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import click

#: command name -> "module:attribute" of a click command; each part adds its own
LAZY_COMMANDS: dict[str, str] = {
    "run": "outreach.runtime.cli:run",
    "web": "outreach.runtime.cli:web",
    "scheduler": "outreach.runtime.cli:scheduler",
    "worker": "outreach.runtime.cli:worker",
    "db": "outreach.runtime.cli:db",
    "user": "outreach.accounts.cli:user",
    "import": "outreach.campaigns.cli:import_csv",
    "contacts": "outreach.contacts.cli:contacts",
    "verify": "outreach.backlinks.cli:verify",
    "discover": "outreach.discovery.cli:discover",
    "demo": "outreach.demo.cli:demo",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module_name, attr = LAZY_COMMANDS[name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="OUTREACH_CONFIG", type=click.Path(dir_okay=False),
              help="TOML configuration file (also OUTREACH_CONFIG).")
@click.version_option(package_name="outreach")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Outreach: find link opportunities, contact sites, verify the links you win."""
    ctx.obj = {"config_path": config_path}


def load_settings_or_exit(ctx: click.Context) -> dict[str, dict[str, Any]]:
    """The settings, or exit 2 with the one-line reason."""
    from outreach.config import ConfigError, load_settings

    try:
        return load_settings(ctx.obj.get("config_path") if ctx.obj else None)
    except ConfigError as exc:
        fail(str(exc))


def fail(message: str, code: int = 2) -> Any:
    """Print one line to stderr and exit (2: bad usage or input, 1: internal failure)."""
    click.echo(f"outreach: {message}", err=True)
    sys.exit(code)


def print_json(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False))


if __name__ == "__main__":  # pragma: no cover
    main()
