"""CI: the built wheel carries everything production runs, and works installed alone.

    python .ci/wheel_check.py files WHEEL      # run from the checkout
    python wheel_check.py smoke                # run by the installed venv, outside it

``files`` fails when a template, static file, migration or compiled catalogue of the
checkout is missing from the wheel. ``smoke`` (with KVARN_INSTANCE_PATH set to an empty
folder) migrates a SQLite database with the installed package only, loads the demo and
fetches the listing and an event page: status 200 and Swedish text.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path


def expected_files(root: Path) -> set[str]:
    wanted = {f"app/templates/{p.relative_to(root / 'templates')}" for p in (root / "templates").rglob("*") if p.is_file()}
    wanted |= {f"app/migrations/{p.relative_to(root / 'migrations')}" for p in (root / "migrations").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    wanted |= {f"app/static/{p.name}" for p in (root / "app" / "static").iterdir() if p.is_file()}
    wanted |= {str(p.relative_to(root)).replace(".po", ".mo") for p in (root / "app" / "translations").rglob("*.po")}
    return wanted


def check_files(wheel: str) -> None:
    root = Path(__file__).resolve().parent.parent
    present = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(expected_files(root) - present)
    if missing:
        sys.exit("The wheel lacks:\n  " + "\n  ".join(missing))
    print(f"wheel carries all {len(expected_files(root))} templates, static files, migrations and catalogues")


def smoke() -> None:
    import app

    here = Path(app.__file__).resolve().parent
    if (here.parent / "pyproject.toml").exists():
        sys.exit(f"smoke test must run against the installed package, not {here}")
    from flask_migrate import upgrade

    from app.devtools.demo import load_demo

    application = app.create_app({"BASE_URL": "http://kvarn.test"})
    with application.app_context():
        upgrade()
        assert load_demo(), "the demo loaded"
    client = application.test_client()
    listing = client.get("/events", headers={"Accept-Language": "sv"})
    assert listing.status_code == 200, listing.status_code
    text = listing.get_data(as_text=True)
    assert "Kommande" in text or "Anmäl" in text or "platser kvar" in text, "Swedish listing"
    page = client.get("/events/1", headers={"Accept-Language": "sv"})
    assert page.status_code == 200, page.status_code
    assert "Anmäl" in page.get_data(as_text=True), "Swedish event page"
    print(f"installed package at {here}: migrated, demo loaded, listing and event page 200 in Swedish")


if __name__ == "__main__":
    if sys.argv[1:2] == ["files"]:
        check_files(sys.argv[2])
    elif sys.argv[1:2] == ["smoke"]:
        smoke()
    else:
        sys.exit(__doc__)
