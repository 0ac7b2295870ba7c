"""One ``Locale`` object per language (``core.i18n.shared_locale``): requests and what is
rendered in a reader's language (``in_language``) use the same object, so the caches keyed
by the locale find it by identity. A page must not compare locales field by field; it did
about 160 times a listing page, and after a mail in another language had filled a cache
with its own, equal but distinct, ``Locale``, every lookup compared them."""

from __future__ import annotations

import pytest
from babel import Locale

from app.core import clock
from app.core.i18n import current_language, format_moment, in_language, translations
from tests import factories as f


@pytest.fixture
def comparisons(monkeypatch):
    """How many times two locales are compared for equality."""
    compared = []
    field_by_field = Locale.__eq__

    def counted(self, other):
        compared.append((self, other))
        return field_by_field(self, other)

    monkeypatch.setattr(Locale, "__eq__", counted)
    return compared


def test_pages_in_either_language_compare_no_locales_after_mail_in_the_other(app, client, comparisons):
    f.organisation()
    f.event(title="Föräldrastöd i praktiken")
    # What a mail in its reader's language does first: the catalogue, a date, the language.
    for language in ("en", "sv"):
        with in_language(language):
            assert current_language() == language
            translations()
            format_moment(clock.now())
    comparisons.clear()
    swedish = client.get("/events")
    english = client.get("/events?lang=en")
    assert swedish.status_code == english.status_code == 200
    assert '<html lang="sv"' in swedish.text and '<html lang="en"' in english.text
    assert "Föräldrastöd i praktiken" in swedish.text and "Föräldrastöd i praktiken" in english.text
    assert comparisons == []


def test_every_request_and_rendering_in_a_language_has_the_same_locale(app):
    from flask_babel import get_locale

    seen = []
    for path in ("/events", "/events?lang=en", "/events", "/events?lang=en"):
        with app.app_context(), app.test_request_context(path):  # each its own, as a request
            seen.append(get_locale())
    with app.app_context(), in_language("en"):
        seen.append(get_locale())
    assert [str(locale) for locale in seen] == ["sv", "en", "sv", "en", "en"]
    assert seen[0] is seen[2] and seen[1] is seen[3] is seen[4]
