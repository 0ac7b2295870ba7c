"""Kvarn: first come, first served registration for courses and lectures.

``create_app`` ties the layers together (docs/architecture.md): configuration, the
extensions, the blueprints by audience, the error pages and the command line.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from .core.config import DefaultConfig

PACKAGE = Path(__file__).resolve().parent
#: In a source checkout templates and migrations sit beside the package; the built
#: wheel carries them inside it (pyproject.toml maps them in).
IN_CHECKOUT = (PACKAGE.parent / "pyproject.toml").is_file()


def resource_dir(name: str) -> Path:
    """``templates`` or ``migrations``: inside the installed package, else in the checkout."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else PACKAGE.parent / name


def _instance_secret(instance: Path) -> str:
    """A random secret kept in instance/secret_key, made on first start, when none is set."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        draft = instance / f".secret_key.{os.getpid()}"
        draft.write_text(secrets.token_hex(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)  # atomic: of several workers starting at once, one wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _instance_path() -> str | None:
    """KVARN_INSTANCE_PATH, else ``instance/`` of a checkout, else Flask's default for an
    installed package (``<prefix>/var/app-instance``)."""
    configured = os.environ.get("KVARN_INSTANCE_PATH")
    if configured:
        return configured
    return str(PACKAGE.parent / "instance") if IN_CHECKOUT else None


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults, then instance/config.py, then KVARN_* environment."""
    app = Flask(
        __name__,
        instance_path=_instance_path(),
        instance_relative_config=True,
        template_folder=str(resource_dir("templates")),
        static_folder=str(PACKAGE / "static"),
    )
    app.config.from_object(DefaultConfig)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("KVARN")
    if test_config:
        app.config.update(test_config)
    if app.config["SECRET_KEY"] == DefaultConfig.SECRET_KEY:
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            "sqlite:///" + str(Path(app.instance_path) / "kvarn.sqlite3")
        )

    from .core.database import engine_options_for, init_database

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **engine_options_for(app.config["SQLALCHEMY_DATABASE_URI"], app.config["SQLITE_BUSY_TIMEOUT"]),
        **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
    }

    from .core import errors, i18n, security
    from .core.extensions import csrf, db, limiter, login_manager, mail, migrate

    db.init_app(app)
    init_database(app)
    migrate.init_app(app, db, directory=str(resource_dir("migrations")))
    mail.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    i18n.init_app(app)
    security.init_app(app)

    from . import accounts  # noqa: F401  (the user loader)
    from .accounts import access  # noqa: F401
    from .auth import bp as auth_bp
    from .devtools import mailbox
    from .events import spans
    from .public import bp as public_bp
    from .staff import bp as staff_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(staff_bp, url_prefix="/staff")
    errors.init_app(app)
    spans.init_app(app)  # an event's stored span follows its sessions on every flush
    mailbox.init_app(app)  # /dev/mailbox, only when DEV_MAILBOX is true
    _template_rules(app)

    from . import cli

    cli.init_app(app)
    _warn_if_limits_are_per_process(app)
    return app


def _gunicorn_workers() -> int:
    """How many gunicorn workers this process is one of (1 when not under gunicorn)."""
    import shlex
    import sys

    if "gunicorn" not in (sys.argv[0] if sys.argv else ""):
        return 1
    args = sys.argv[1:] + shlex.split(os.environ.get("GUNICORN_CMD_ARGS", ""))
    workers = os.environ.get("WEB_CONCURRENCY", "1")
    for index, arg in enumerate(args):
        if arg in ("-w", "--workers") and index + 1 < len(args):
            workers = args[index + 1]
        elif arg.startswith("--workers="):
            workers = arg.split("=", 1)[1]
        elif arg.startswith("-w") and arg[2:].isdigit():
            workers = arg[2:]
    return int(workers) if str(workers).isdigit() else 1


def _warn_if_limits_are_per_process(app: Flask) -> None:
    """Each worker counts alone with in-memory storage: 4 workers allow 4 x the limit."""
    import logging

    storage = str(app.config.get("RATELIMIT_STORAGE_URI", "memory://"))
    workers = _gunicorn_workers()
    if storage.startswith("memory") and workers > 1 and app.config.get("RATELIMIT_ENABLED", True):
        logging.getLogger("kvarn").warning(
            "\n%s\nRATE LIMITS ARE PER PROCESS: %d gunicorn workers share no counts with "
            "RATELIMIT_STORAGE_URI=%s, so every limit is %d times too generous.\n"
            "Set KVARN_RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0 (see README, Production).\n%s",
            "!" * 78, workers, storage, workers, "!" * 78,
        )


def _template_rules(app: Flask) -> None:
    """The rules and labels templates read, from their one source in the services."""
    from .accounts import roles
    from .core.form_base import error_list
    from .core.urls import map_url
    from .events import statuses as event_statuses
    from .registrations import statuses as registration_statuses

    app.jinja_env.globals.update(
        registration_label=registration_statuses.label,
        team_sentence=registration_statuses.team_sentence,
        team_label=registration_statuses.team_label,
        can_cancel=registration_statuses.can_cancel,
        can_promote_by_hand=registration_statuses.can_promote_by_hand,
        seat_giving_event_statuses=[s.value for s in registration_statuses.SEAT_GIVING_EVENTS],
        event_kind_label=event_statuses.kind_label,
        event_phase_label=event_statuses.phase_label,
        session_venue=event_statuses.venue_label,
        event_phase_name=event_statuses.phase_name,
        role_label=roles.label,
        organiser_roles=[r.value for r in roles.ORGANISERS],
        form_error_list=error_list,
    )
    app.jinja_env.filters["map_url"] = map_url
