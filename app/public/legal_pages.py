"""The pages a public body must publish: privacy notice, accessibility statement, contact.

Linked from every page's footer (``base.html``). The text is the installation's own file
in the instance folder when there is one, else the default template filled from the
settings (``core.site_texts``); the language is the visitor's, not the path's.
"""

from __future__ import annotations

from flask import render_template
from flask_babel import lazy_gettext as _l

from ..core import site_texts
from ..core.i18n import current_language
from .views import bp

TITLES = {
    "privacy": _l("How we handle your personal data"),
    "accessibility": _l("Accessibility statement"),
    "contact": _l("Contact"),
}


def _page(page: str):
    language = current_language()
    own = site_texts.override(page, language)
    if own is not None:
        return render_template(
            "public/legal/override.html",
            title=own.title or TITLES[page],
            text=own,
            language_name=site_texts.LANGUAGE_NAMES.get(own.lang, own.lang),
        )
    return render_template(
        f"public/legal/{page}.html", title=TITLES[page], facts=site_texts.facts(language)
    )


@bp.get("/privacy")
def privacy():
    return _page("privacy")


@bp.get("/accessibility")
def accessibility():
    return _page("accessibility")


@bp.get("/contact")
def contact():
    return _page("contact")
