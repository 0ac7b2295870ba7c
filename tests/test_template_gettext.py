"""The templates' gettext callables (``core.i18n._template_callables``) behave as Jinja's
own newstyle ones: the same text in both languages, escaped in HTML and not in text,
variables of any name, "%%" for a percent sign, plural forms and message contexts."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from jinja2 import Environment

from app.core.i18n import translations

# Messages from the catalogue (so the Swedish differs from the English), with variables
# whose names are also the callables' own parameter names in Jinja.
TEMPLATES = [
    '{{ _("Give %(name)s a seat now? One seat is added for them.", name=who) }}',
    '{{ _("Give %(name)s a seat now? One seat is added for them.", name=who, string=1, context=2) }}',
    '{{ ngettext("%(num)d registration", "%(num)d registrations", n) }}',
    '{{ ngettext("%(num)d work team (%(people)d people)", "%(num)d work teams (%(people)d people)", n, people=7) }}',
    '{{ pgettext("feeds", "Subscribe") }}',
    '{{ _("Registrations") }}',
    '{% for r in rows %}{{ _("no. %(position)d", position=r) }};{% endfor %}',
    '{{ _("100%% sure: %(name)s", name=who) }}',
    # Markup in a message is kept in HTML, the variables in it escaped (not in the
    # catalogue: gettext gives it back as it is).
    '{{ _("<b>%(name)s</b> & co", name=who) }}',
    # The trans tag calls the same callables, newstyle.
    '{% trans name=who %}Registrations of {{ name }}{% endtrans %}',
    '{% trans num=n %}{{ num }} registration{% pluralize %}{{ num }} registrations{% endtrans %}',
]


def _jinja_own(autoescape: bool) -> Environment:
    """Jinja's newstyle callables over the same catalogue: the reference."""
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=autoescape)
    env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    return env


@pytest.mark.parametrize("language", ["sv", "en"])
@pytest.mark.parametrize("autoescape", [True, False])
def test_the_templates_gettext_renders_as_jinjas_own(app, language, autoescape):
    ours = app.jinja_env.overlay(autoescape=autoescape)
    reference = _jinja_own(autoescape)
    values = {"who": '<Åsa & "Bo">', "n": 2, "rows": [1, 2]}
    with app.test_request_context("/"), force_locale(language):
        for source in TEMPLATES:
            expected = reference.from_string(source).render(values)
            assert ours.from_string(source).render(values) == expected, source
        swedish = ours.from_string(TEMPLATES[5]).render()
    assert ("Anmälningar" in swedish) == (language == "sv")
    rendered = ours.from_string(TEMPLATES[0]).render(values)
    assert ("&lt;Åsa &amp; &#34;Bo&#34;&gt;" in rendered) == autoescape
