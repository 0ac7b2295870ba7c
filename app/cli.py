"""Flask commands: demo data (and, as they arrive, outbox, reminders, users)."""

from __future__ import annotations

import click
from flask import Flask


def init_app(app: Flask) -> None:
    @app.cli.command("demo")
    def demo_command() -> None:
        """Load the demo data once (does nothing if it is already there)."""
        from .demo import load_demo

        if load_demo():
            click.echo("Demo data loaded.")
        else:
            click.echo("Demo data already present; nothing changed.")
