"""A participant whose browser is set to German takes a study offered in English and German, in a real
Chromium: every page is in German without a language in the study link (the browser's Accept-Language
chooses it), the page's script speaks German too (the completion page's countdown), and what they did is
stored as an English-reading participant's is, with their language."""

import secrets

import pytest

from studyapp.models import Item, PageVisit, Participant, Response, Study
from tests.conftest import make_study
from tests.studyapp.translated import PREFIX, offer_german
from tests.test_browser import DESKTOP, EXPECTED_RETURN, browser, csp_refusals, entry_url, expect, new_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser"]  # the fixture, imported to be used here


@pytest.fixture
def german_demo(transactional_db) -> Study:
    study = make_study("zweisprachig", n_stimuli=6, trials=3)
    Study.objects.filter(pk=study.pk).update(completion_code="DEMO-COMPLETE", return_countdown_seconds=60)
    return offer_german(study)


def answer_every_item(page, value: int) -> None:
    """Each statement of the page's form by clicking its label; an attention check as it asks."""
    for fieldset in page.locator("form.ratings fieldset.likert").all():
        code = fieldset.get_attribute("id").removeprefix("field-item-")
        expected = Item.objects.get(study__slug="zweisprachig", code=code).expected_value
        fieldset.locator(f'input[value="{expected or value}"]').locator("xpath=..").click()


def test_a_browser_set_to_german_takes_the_study_in_german(browser, live_server, german_demo):
    page, prolific_urls = new_page(browser, DESKTOP, locale="de-DE")
    page.goto(entry_url(live_server, german_demo, secrets.token_hex(12)))
    assert page.locator("html").get_attribute("lang") == "de"
    expect(page.get_by_role("heading", name="Einwilligung in die Teilnahme")).to_be_visible()
    expect(page.locator(".site-title")).to_have_text(f"{PREFIX}Study zweisprachig")
    page.get_by_text("Ja, ich bin mit der Teilnahme einverstanden").click()
    page.get_by_role("button", name="Weiter").click()

    expect(page.get_by_role("heading", name="Anleitung")).to_be_visible()
    expect(page.get_by_text("Jede Aussage wird auf einer fünfstufigen Skala bewertet.")).to_be_visible()
    page.get_by_role("button", name="Erste Aufgabe beginnen").click()
    for trial in range(1, 4):
        expect(page.get_by_role("heading", name=f"Aufgabe {trial}", exact=True)).to_be_visible()
        expect(page.locator(".progress-label")).to_have_text(f"Durchgang {trial} von 3")
        expect(page.locator("#trace-heading")).to_have_text("Der Gedankengang des Modells")
        expect(page.locator("p.question")).to_contain_text(PREFIX)
        expect(page.get_by_role("heading", name="Die Antwort des Modells")).to_be_visible()
        answer_every_item(page, 4)
        page.get_by_role("button", name="Speichern und weiter").click()

    expect(page.get_by_role("heading", name="Abschließende Fragen")).to_be_visible()
    answer_every_item(page, 2)
    page.get_by_label("Haben Sie Anmerkungen zur Studie? (freiwillig)").fill("Alles verständlich.")
    page.get_by_role("button", name="Studie abschließen").click()

    finished = "Vielen Dank, Sie haben die Studie abgeschlossen"
    expect(page.get_by_role("heading", name=finished)).to_be_visible()
    countdown = page.locator("[data-countdown]")
    expect(countdown).to_contain_text("Weiterleitung zu Prolific in")  # the script ran, in German
    countdown.get_by_role("button", name="Auf dieser Seite bleiben").click()
    stayed = "Sie bleiben auf dieser Seite. Nutzen Sie die Schaltfläche oben, wenn Sie so weit sind."
    expect(countdown).to_have_text(stayed)
    page.get_by_role("link", name="Zurück zu Prolific").click()
    page.wait_for_url(EXPECTED_RETURN)
    assert prolific_urls == [EXPECTED_RETURN] and csp_refusals(page) == []
    page.context.close()

    participant = Participant.objects.get(study=german_demo)
    assert participant.language == "de" and participant.status == Participant.Status.COMPLETED
    assert participant.comment == "Alles verständlich."
    assert Response.objects.filter(participant=participant, stimulus__isnull=True).count() == 4
    trials = PageVisit.objects.filter(participant=participant, page__startswith="trial-")
    assert trials.count() == 3 and all(v.trace_visible_ms is not None and v.trace_version_id for v in trials)
