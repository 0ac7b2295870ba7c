"""Flask commands: demo data (and, as they arrive, outbox, reminders, users)."""

from __future__ import annotations

import click
from flask import Flask


def init_app(app: Flask) -> None:
    from . import mail_cli

    mail_cli.init_app(app)  # flask outbox ..., flask reminders ...
    from .users_cli import create_user_command

    app.cli.add_command(create_user_command)

    @app.cli.group("gauging")
    def gauging_group() -> None:
        """Lectures that gauge interest before they are confirmed."""

    @gauging_group.command("notify-deadlines")
    def notify_deadlines_command() -> None:
        """Mail organisers whose interest deadline passed undecided (once each; for cron)."""
        from .gauging import notify_passed_deadlines

        click.echo(f"Organisers told: {notify_passed_deadlines()}")

    @app.cli.command("demo")
    def demo_command() -> None:
        """Load the demo data once (does nothing if it is already there)."""
        from .demo import load_demo

        if load_demo():
            click.echo("Demo data loaded.")
        else:
            click.echo("Demo data already present; nothing changed.")
