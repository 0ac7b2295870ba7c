"""Kvarn: first come, first served registration for courses and lectures."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from .config import DefaultConfig

ROOT = Path(__file__).resolve().parent.parent


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


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults, then instance/config.py, then KVARN_* environment."""
    instance_path = os.environ.get("KVARN_INSTANCE_PATH", str(ROOT / "instance"))
    app = Flask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "app" / "static"),
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

    from .database import engine_options_for, init_database

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **engine_options_for(app.config["SQLALCHEMY_DATABASE_URI"], app.config["SQLITE_BUSY_TIMEOUT"]),
        **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
    }

    from . import i18n, security
    from .extensions import csrf, db, limiter, login_manager, mail, migrate

    db.init_app(app)
    init_database(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    mail.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    i18n.init_app(app)
    security.init_app(app)

    from . import devmail, errors
    from .auth import bp as auth_bp
    from .public import bp as public_bp
    from .staff import bp as staff_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(staff_bp, url_prefix="/staff")
    errors.init_app(app)
    devmail.init_app(app)  # /dev/mailbox, only when DEV_MAILBOX is true

    from . import cli

    cli.init_app(app)
    return app
