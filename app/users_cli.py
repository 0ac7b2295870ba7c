"""`flask create-user EMAIL --role ROLE [--organisation NAME]`."""

from __future__ import annotations

import sys

import click

from .models import Role


@click.command("create-user")
@click.argument("email")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="admin, organiser or coordinator.",
)
@click.option("--organisation", default=None, help="The coordinator's organisation (its exact name).")
@click.option("--name", default="", help="Display name (default: the part of the email before @).")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of a prompt.",
)
def create_user_command(
    email: str, role: str, organisation: str | None, name: str, password_stdin: bool
) -> None:
    """Create a staff user. The password is asked for (twice) unless --password-stdin."""
    from flask_babel import force_locale

    from .users import UserError, create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(email, role, password, name=name, organisation_name=organisation)
    except UserError as error:
        with force_locale("en"):  # the command line speaks English, like the rest of `flask`
            message = str(error.message)
        raise click.ClickException(message) from error
    where = f" ({user.organisation.name})" if user.organisation else ""
    click.echo(f"Created {user.role.value} {user.email}{where}.")
