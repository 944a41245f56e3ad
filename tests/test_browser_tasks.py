"""Verification and simulation trials in a real Chromium, on a phone (390 px) and a desktop (1280 px):
the judgement's answers and the confidence scale fit the screen, are chosen with the keyboard alone, the
script sends the time from the text being on screen to the choice, and axe-core finds no violation on any
of their pages (the verification page sent back with its errors included)."""

import secrets

import pytest

from studyapp.models import StimulusTrace, TraceKind, TrialJudgement
from tests.studyapp.judged import HIDDEN, simulation_study, verification_study
from tests.test_accessibility import axe_violations
from tests.test_browser import (
    DESKTOP,
    PHONE,
    browser,
    consent_and_read_instructions,
    entry_url,
    expect,
    new_page,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser"]  # the fixture, imported to be used here


def fits(page) -> None:
    """Nothing runs off the side of the screen, and every answer of the judgement is inside its box."""
    page.wait_for_load_state("load")
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for fieldset in page.locator("fieldset.judgement, fieldset#field-confidence").all():
        frame = fieldset.bounding_box()
        for label in fieldset.locator("label").all():
            box = label.bounding_box()
            assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"] + 0.5


def choose_by_keyboard(page, name: str) -> None:
    """Focus the group's first radio and move with the arrow key: a native radio group."""
    page.locator(f'input[name="{name}"]').first.focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    expect(page.locator(f'input[name="{name}"]:checked')).to_have_count(1)


def rate_items(page) -> None:
    for fieldset in page.locator("form.ratings fieldset.likert").all():
        if fieldset.get_attribute("id") != "field-confidence":
            fieldset.locator('input[type="radio"]').nth(2).check()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_verification_trial_by_keyboard(browser, live_server, viewport):
    study = verification_study("verify-browser", trials=2)
    page, _ = new_page(browser, viewport)
    page.goto(entry_url(live_server, study, secrets.token_hex(12)))
    consent_and_read_instructions(page)
    expect(page.get_by_role("group", name="Is the model's answer correct?")).to_be_visible()
    fits(page)
    size = "phone" if viewport is PHONE else "desktop"
    found = axe_violations(page, f"{size}-verification")
    page.locator("form.ratings").evaluate("form => { form.noValidate = true; }")
    page.get_by_role("button", name="Save and continue").click()  # nothing chosen: sent back
    expect(page.locator("#error-summary")).to_be_focused()
    found += axe_violations(page, f"{size}-verification-errors")
    assert found == [], "\n".join(found)
    choose_by_keyboard(page, "judgement")
    choose_by_keyboard(page, "confidence")
    rate_items(page)
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Problem 2")).to_be_visible()
    judgement = TrialJudgement.objects.get(participant__study=study)
    assert judgement.choice in ("yes", "no") and judgement.choice_ms is not None


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_simulation_trial_predicts_then_sees_the_answer(browser, live_server, viewport):
    study = simulation_study("simulate-browser", trials=2)
    page, _ = new_page(browser, viewport)
    page.goto(entry_url(live_server, study, secrets.token_hex(12)))
    consent_and_read_instructions(page)
    expect(page.get_by_role("group", name="Which answer will the model give?")).to_be_visible()
    expect(page.locator(".trace")).to_contain_text(HIDDEN)
    expect(page.locator(".model-answer")).to_have_count(0)
    fits(page)
    size = "phone" if viewport is PHONE else "desktop"
    found = axe_violations(page, f"{size}-prediction")
    choose_by_keyboard(page, "prediction")
    choose_by_keyboard(page, "confidence")
    page.get_by_role("button", name="Save my prediction and see the answer").click()
    expect(page.get_by_role("heading", name="The model's answer", exact=True)).to_be_visible()
    judgement = TrialJudgement.objects.get(participant__study=study)
    expect(page.locator(".answer")).to_have_text(judgement.truth)
    assert judgement.choice_ms is not None
    fits(page)
    found += axe_violations(page, f"{size}-revealed")
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_an_answer_only_verification_trial_shows_the_problem_and_the_answer(browser, live_server, viewport):
    """The control condition of a verification study: no text and no heading of one; the time to the
    choice is measured from the problem being on screen."""
    study = verification_study("answer-only-browser", trials=2, items=False)
    study.conditions.update(trace_kind=TraceKind.ANSWER_ONLY)
    StimulusTrace.objects.filter(stimulus__study=study).update(text="", masked_text="")
    page, _ = new_page(browser, viewport)
    page.goto(entry_url(live_server, study, secrets.token_hex(12)))
    consent_and_read_instructions(page)
    expect(page.get_by_role("heading", name="The model's answer")).to_be_visible()
    expect(page.locator("#trace-heading")).to_have_count(0)
    fits(page)
    size = "phone" if viewport is PHONE else "desktop"
    found = axe_violations(page, f"{size}-answer-only")
    assert found == [], "\n".join(found)
    choose_by_keyboard(page, "judgement")
    choose_by_keyboard(page, "confidence")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Problem 2")).to_be_visible()
    judgement = TrialJudgement.objects.get(participant__study=study)
    assert judgement.choice in ("yes", "no") and judgement.choice_ms is not None
