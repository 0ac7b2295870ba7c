"""The pages a public body must publish: privacy notice, accessibility statement, contact.

Their default texts are filled from the settings, in Swedish and English; a file in the
instance folder replaces a page's text, without ever letting HTML through; every page's
footer links them, and the sign-up form links the privacy notice next to "special needs".
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from app.core.site_texts import render_markdown
from app.models import Role
from tests import factories as f
from tests.staff_clients import logged_in
from tests.staff_helpers import make_user

SETTINGS = {
    "ORGANISATION_NAME": "Alingsås kommun",
    "ORGANISATION_ADDRESS": "Stora torget 1\n441 81 Alingsås",
    "CONTACT_EMAIL": "kontakt@alingsas.example",
    "CONTACT_PHONE": "0322-61 60 00",
    "DPO_EMAIL": "dataskyddsombud@alingsas.example",
    "RETENTION_MONTHS": 18,
    "MANAGE_LINK_DAYS_AFTER_EVENT": 30,
    "ACCESSIBILITY_CONFORMANCE": "partial",
    "ACCESSIBILITY_KNOWN_GAPS": {
        "sv": ["Exporten till Excel har inte granskats."],
        "en": ["The Excel export has not been reviewed."],
    },
    "ACCESSIBILITY_REVIEWED": "2025-03-14",
}


@pytest.fixture
def app_config() -> dict:
    return dict(SETTINGS)


@pytest.fixture
def pages(app):
    """The instance folder's pages/ (shared by the test session): emptied afterwards."""
    folder = Path(app.instance_path) / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    shutil.rmtree(folder)


def get(client, path: str, lang: str = "sv") -> str:
    client.get(f"/lang/{lang}?next=/events")
    response = client.get(path)
    assert response.status_code == 200, (path, lang, response.status_code)
    page = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
    return page


def main(page: str) -> str:
    return page.split('<main id="main">', 1)[1].split("</main>", 1)[0]


def headings(page: str) -> list[int]:
    return [int(level) for level in re.findall(r"<h([1-6])[\s>]", main(page))]


def assert_headings_in_order(page: str) -> None:
    levels = headings(page)
    assert levels and levels[0] == 1 and levels.count(1) == 1, levels
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), levels


# --- Privacy notice ------------------------------------------------------------------------


def test_privacy_notice_in_swedish_from_the_settings(client):
    page = main(get(client, "/privacy"))
    assert "<h1>Så behandlar vi dina personuppgifter</h1>" in page
    # The controller and how to reach it, and the data protection officer.
    assert "Personuppgiftsansvarig för dina personuppgifter är Alingsås kommun." in page
    assert "<address>Alingsås kommun<br>Stora torget 1<br>441 81 Alingsås</address>" in page
    assert 'href="mailto:kontakt@alingsas.example"' in page
    assert 'href="tel:0322616000"' in page
    assert 'Vårt dataskyddsombud: <a href="mailto:dataskyddsombud@alingsas.example">' in page
    # What is stored; the purposes; the legal basis (and consent for special needs).
    assert "Ditt namn och din e-postadress." in page and "arbetslag" in page
    for purpose in ("hantera din anmälan", "väntelistan", "påminnelser", "intyg om deltagande", "statistik"):
        assert purpose in page, purpose
    assert "uppgift av allmänt intresse" in page and "artikel 6.1 e i dataskyddsförordningen" in page
    assert 'id="special-needs"' in page and "samtycke (artiklarna 6.1 a och 9.2 a i GDPR)" in page
    # For how long: the personal link's days and the retention months.
    assert "Din personliga länk fungerar i 30 dagar efter att evenemanget har slutat." in page
    assert "Vi sparar anmälningar i 18 månader efter evenemanget" in page
    # The rights, and the complaint to IMY.
    for right in ("(tillgång)", "(rättelse)", "(radering)", "(begränsning)", "(invändning)"):
        assert right in page, right
    assert "Integritetsskyddsmyndigheten (IMY)" in page and 'href="https://www.imy.se/"' in page
    assert_headings_in_order(get(client, "/privacy"))


def test_privacy_notice_in_english(client):
    page = main(get(client, "/privacy", "en"))
    assert "<h1>How we handle your personal data</h1>" in page
    assert "Alingsås kommun is the controller of your personal data." in page
    assert "dataskyddsombud@alingsas.example" in page
    assert "task in the public interest" in page and "article 6.1 e" in page
    assert "GDPR articles 6.1 a and 9.2 a" in page
    assert "Your personal link works for 30 days after the event has ended." in page
    assert "We keep registrations for 18 months after the event" in page
    for right in ("(access)", "(rectification)", "(erasure)", "(restriction)", "(objection)"):
        assert right in page, right
    assert "Swedish Authority for Privacy Protection (IMY)" in page
    assert_headings_in_order(get(client, "/privacy", "en"))


@pytest.mark.parametrize("app_config", [{"RETENTION_MONTHS": 1, "MANAGE_LINK_DAYS_AFTER_EVENT": 1}])
def test_privacy_notice_counts_in_the_singular(client):
    page = get(client, "/privacy")
    assert "i 1 dag efter" in page and "i 1 månad efter" in page
    page = get(client, "/privacy", "en")
    assert "for 1 day after" in page and "for 1 month after" in page


@pytest.mark.parametrize("app_config", [{}])
def test_pages_make_sense_with_nothing_configured(client):
    privacy = main(get(client, "/privacy"))
    assert "Personuppgiftsansvarig för dina personuppgifter är Kvarn." in privacy
    assert "Vårt dataskyddsombud når du via kontaktuppgifterna ovan." in privacy
    assert "i 30 dagar" in privacy and "i 12 månader" in privacy
    contact = main(get(client, "/contact"))
    assert "Kontaktuppgifterna är inte ifyllda ännu." in contact and "mailto:" not in contact
    statement = main(get(client, "/accessibility"))
    assert "delvis förenlig" in statement and "Vi går igenom bristerna" in statement
    assert 'href="/contact"' in statement  # how to report, without an address configured
    assert 'href="https://www.digg.se/tdosanmalan"' in statement
    assert "sågs senast över" not in statement


# --- Accessibility statement ---------------------------------------------------------------


def test_accessibility_statement_in_swedish(client):
    page = main(get(client, "/accessibility"))
    assert "<h1>Tillgänglighetsredogörelse</h1>" in page
    assert "Alingsås kommun ansvarar för den här webbplatsen, http://kvarn.test." in page
    assert "lagen (2018:1937) om tillgänglighet till digital offentlig service" in page
    assert "Den här webbplatsen är delvis förenlig med lagen" in page
    assert "WCAG 2.1" in page and "EN 301 549" in page
    assert "<li>Exporten till Excel har inte granskats.</li>" in page
    assert "Rapportera brister i webbplatsens tillgänglighet" in page
    report = page.split('id="report"', 1)[1].split('id="supervision"', 1)[0]
    assert 'href="mailto:kontakt@alingsas.example"' in report and 'href="tel:0322616000"' in report
    assert "Myndigheten för digital förvaltning (DIGG)" in page
    assert '<a href="https://www.digg.se/tdosanmalan">Anmäl bristande tillgänglighet till DIGG</a>' in page
    assert "Redogörelsen sågs senast över den 14 mars 2025." in page
    assert_headings_in_order(get(client, "/accessibility"))


def test_accessibility_statement_in_english(client):
    page = main(get(client, "/accessibility", "en"))
    assert "<h1>Accessibility statement</h1>" in page
    assert "This website is partially compliant with the Act on accessibility to digital public services" in page
    assert "<li>The Excel export has not been reviewed.</li>" in page
    assert "Agency for Digital Government (DIGG)" in page
    assert "last reviewed on 14 March 2025." in page
    assert_headings_in_order(get(client, "/accessibility", "en"))


@pytest.mark.parametrize(
    ("conformance", "swedish", "english"),
    [
        ("full", "helt förenlig", "fully compliant"),
        ("none", "inte förenlig", "not compliant"),
        ("nonsense", "delvis förenlig", "partially compliant"),
    ],
)
def test_conformance_levels(app, client, conformance, swedish, english):
    app.config["ACCESSIBILITY_CONFORMANCE"] = conformance
    assert f"Den här webbplatsen är {swedish} med lagen" in get(client, "/accessibility")
    assert f"This website is {english} with the Act" in get(client, "/accessibility", "en")


def test_known_gaps_in_one_language_are_marked_as_such(app, client):
    app.config["ACCESSIBILITY_KNOWN_GAPS"] = "Kartlänken öppnar en extern tjänst.\nPDF-bilagor kan sakna rubriker."
    english = main(get(client, "/accessibility", "en"))
    assert '<li lang="sv">Kartlänken öppnar en extern tjänst.</li>' in english
    assert '<li lang="sv">PDF-bilagor kan sakna rubriker.</li>' in english
    swedish = main(get(client, "/accessibility"))
    assert "<li>Kartlänken öppnar en extern tjänst.</li>" in swedish
    app.config["ACCESSIBILITY_KNOWN_GAPS"] = {"en": ["Only in English."]}
    assert '<li lang="en">Only in English.</li>' in get(client, "/accessibility")


def test_a_bad_report_address_falls_back_to_diggs_form(app, client):
    app.config["ACCESSIBILITY_REPORT_URL"] = "javascript:alert(1)"
    page = get(client, "/accessibility")
    assert "javascript:" not in page and 'href="https://www.digg.se/tdosanmalan"' in page


# --- Contact --------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_contact_page(client, lang):
    page = main(get(client, "/contact", lang))
    assert "<h1>Kontakt</h1>" in page if lang == "sv" else "<h1>Contact</h1>" in page
    assert "<address>Alingsås kommun<br>Stora torget 1<br>441 81 Alingsås</address>" in page
    assert '<a href="mailto:kontakt@alingsas.example">kontakt@alingsas.example</a>' in page
    assert '<a href="tel:0322616000">0322-61 60 00</a>' in page
    assert 'href="/privacy"' in page and 'href="/accessibility"' in page
    assert_headings_in_order(get(client, "/contact", lang))


# --- The installation's own texts -----------------------------------------------------------


def test_an_override_file_replaces_the_default_text(client, pages):
    (pages / "privacy.sv.md").write_text(
        "# Personuppgiftspolicy\n\n"
        "Alingsås kommun behandlar **bara** det som behövs.\n"
        "Andra raden i samma stycke.\n\n"
        "## Dina rättigheter\n\n"
        "- Rätt till tillgång\n"
        "- Rätt till [rättelse](https://www.imy.se/rattelse)\n\n"
        "1. Först\n2. Sedan\n",
        encoding="utf-8",
    )
    page = get(client, "/privacy")
    body = main(page)
    assert "<title>Personuppgiftspolicy – Kvarn</title>" in page
    assert "<h1>Personuppgiftspolicy</h1>" in body
    assert "Så behandlar vi dina personuppgifter" not in body  # not the default text
    assert "<p>Alingsås kommun behandlar <strong>bara</strong> det som behövs.<br>\nAndra raden i samma stycke.</p>" in body
    assert "<h2>Dina rättigheter</h2>" in body
    assert '<ul><li>Rätt till tillgång</li><li>Rätt till <a href="https://www.imy.se/rattelse">rättelse</a></li></ul>' in body
    assert "<ol><li>Först</li><li>Sedan</li></ol>" in body
    assert "only available" not in body and ' lang="' not in body
    assert_headings_in_order(page)
    # The other pages keep their default texts.
    assert "Tillgänglighetsredogörelse" in get(client, "/accessibility")


def test_an_override_in_the_other_language_is_shown_marked_until_one_exists(client, pages):
    (pages / "contact.sv.md").write_text("# Kontakta kommunen\n\nRing växeln.\n", encoding="utf-8")
    english = main(get(client, "/contact", "en"))
    assert '<h1 lang="sv">Kontakta kommunen</h1>' in english
    assert "This page is only available in Swedish." in english
    assert '<div class="legal" lang="sv">' in english and "<p>Ring växeln.</p>" in english
    (pages / "contact.en.md").write_text("Call the switchboard.\n", encoding="utf-8")
    english = main(get(client, "/contact", "en"))
    assert "<h1>Contact</h1>" in english  # no heading in the file: the page's own title
    assert "<p>Call the switchboard.</p>" in english and "only available" not in english
    assert "<h1>Kontakta kommunen</h1>" in get(client, "/contact")


def test_an_override_can_never_inject_html(client, pages):
    (pages / "accessibility.sv.md").write_text(
        "# Rubrik <script>alert(1)</script>\n\n"
        "<script>alert('x')</script>\n"
        '<img src=x onerror="alert(1)">\n'
        "[klicka](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=)\n"
        '[citat](https://ok.example/" onmouseover="alert(1))\n'
        "**<b>fet</b>** &amp; &lt;\n\n"
        "#### För djup rubrik\n\n"
        "- <a href='https://evil.example'>lista</a>\n",
        encoding="utf-8",
    )
    page = get(client, "/accessibility")
    body = main(page)
    assert "<script" not in page.split("<main", 1)[1] and "<img" not in body and "<b>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "javascript:" not in body.replace("[klicka](javascript:alert(1))", "")
    assert 'href="javascript' not in body and 'href="data:' not in body
    assert "onmouseover=" not in body.replace("&#34; onmouseover=&#34;", "")
    assert "<strong>&lt;b&gt;fet&lt;/b&gt;</strong> &amp;amp; &amp;lt;" in body
    assert "<h2>För djup rubrik</h2>" in body  # headings never skip a level
    assert "<li>&lt;a href=&#39;https://evil.example&#39;&gt;lista&lt;/a&gt;</li>" in body
    assert not re.search(r"<a [^>]*href=\"https://evil", body)
    assert_headings_in_order(page)


def test_an_unreadable_override_leaves_the_default_text(client, pages):
    (pages / "privacy.sv.md").write_bytes(b"# Trasig\n\n\xff\xfe inte UTF-8")
    page = main(get(client, "/privacy"))
    assert "<h1>Så behandlar vi dina personuppgifter</h1>" in page and "Trasig" not in page


def test_render_markdown_keeps_heading_order_and_escapes():
    title, body = render_markdown("\n\n# Titel\n### Tre\n#### Fyra\n## Två\n# Ett till\nText & <mer>\n")
    assert title == "Titel"
    assert str(body) == (
        "<h2>Tre</h2>\n<h3>Fyra</h3>\n<h2>Två</h2>\n<h2>Ett till</h2>\n<p>Text &amp; &lt;mer&gt;</p>"
    )
    title, body = render_markdown("Inget rubrik här\n- a\n  fortsättning\n- [b](/events) [c](#x) [d](mailto:a@b.se)")
    assert title is None
    assert str(body) == (
        "<p>Inget rubrik här</p>\n"
        '<ul><li>a fortsättning</li><li><a href="/events">b</a> <a href="#x">c</a> '
        '<a href="mailto:a@b.se">d</a></li></ul>'
    )


# --- Linked from every page -----------------------------------------------------------------


def footer(page: str) -> str:
    return page.split('<footer class="site">', 1)[1].split("</footer>", 1)[0]


def assert_footer_links(page: str, organisation: str = "Alingsås kommun") -> None:
    part = footer(page)
    assert organisation in part
    for path in ("/privacy", "/accessibility", "/contact"):
        assert f'href="{path}"' in part, path


def test_footer_links_on_the_listing_an_event_and_a_staff_page(app, client):
    event = f.event(title="Kurs med sidfot")
    assert_footer_links(get(client, "/events"))
    assert_footer_links(get(client, f"/events/{event.id}"))
    english = get(client, f"/events/{event.id}", "en")
    assert ">Personal data</a>" in footer(english) and ">Accessibility</a>" in footer(english)
    staff = logged_in(app, make_user(Role.ORGANISER))
    response = staff.get("/staff/dashboard")
    assert response.status_code == 200
    assert_footer_links(response.get_data(as_text=True))
    swedish = footer(get(client, "/events"))
    assert 'aria-label="Om webbplatsen"' in swedish
    assert ">Personuppgifter</a>" in swedish and ">Tillgänglighet</a>" in swedish and ">Kontakt</a>" in swedish


def test_the_privacy_notice_is_linked_next_to_the_special_needs_field(app, client):
    f.organisation("Alingsås kommun")
    event = f.event()
    page = get(client, f"/events/{event.id}")
    hint = re.search(r'<p class="hint" id="needs-hint">(.*?)</p>', page, re.S)
    assert hint, "no hint beside the special needs field"
    assert '<a href="/privacy#special-needs">hur vi behandlar personuppgifter</a>' in hint.group(1)
    assert "Skriv bara det som arrangören behöver veta." in hint.group(1)
    assert re.search(r'<textarea[^>]*aria-describedby="needs-hint"[^>]*id="needs"|<textarea[^>]*id="needs"[^>]*aria-describedby="needs-hint"', page)
    english = get(client, f"/events/{event.id}", "en")
    assert '<a href="/privacy#special-needs">how we handle personal data</a>' in english


def test_the_address_may_be_a_list_of_lines(app, client):
    app.config["ORGANISATION_ADDRESS"] = ["Box 1", "441 81 Alingsås"]
    assert "<address>Alingsås kommun<br>Box 1<br>441 81 Alingsås</address>" in get(client, "/contact")
