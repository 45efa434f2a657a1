"""`flask demo seed`: a demo school to try the API with, created once."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from backend.demo.seed import STUDENTS, existing_demo, seed

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("seed")
def seed_command() -> None:
    """Create the demo school (two classes, 60 students, guardians, a term of attendance and grades,
    fees, health records and a knowledge base).

    Running it again changes nothing.
    """
    logins = existing_demo()
    if logins is not None:
        click.echo("The demo school already exists; nothing was changed.")
        click.echo(
            "Lost the demo password? Set a new one for any login with "
            "`flask --app wsgi users set-password --email ADDRESS`."
        )
    else:
        with click.progressbar(length=STUDENTS, label="Creating students, attendance and grades") as bar:
            logins = seed(bar.update)
    click.echo(f"Admin:    {logins.admin}")
    click.echo(f"Teachers: {', '.join(logins.teachers)}")
    click.echo(f"Parents:  {', '.join(logins.parents)} … (parent1 to parent{STUDENTS}, one per student)")
    if logins.password:
        click.echo(f"Password for every demo login: {logins.password}")
        click.echo("It is shown only now; run `flask users create` for accounts of your own.")
