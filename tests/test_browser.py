"""A participant takes the demo study in a real Chromium, and what the browser did lands in the database.

Runs Debian's Chromium (/usr/bin/chromium) through Playwright against pytest-django's live server.
Prolific is never contacted: requests to app.prolific.com are answered by the test itself.
Set STUDY_SCREENSHOT_DIR to keep a screenshot of a trial page at desktop and phone size.
"""

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from studyapp.demo import seed_demo
from studyapp.models import Condition, PageVisit, Participant, Response, Study
from studyapp.questionnaire import AGREEMENT

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROLIFIC_PATTERN = "https://app.prolific.com/**"
EXPECTED_RETURN = "https://app.prolific.com/submissions/complete?cc=DEMO-COMPLETE"
ATTENTION_ASKS = re.compile(r"please select '([^']+)'")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000


@pytest.fixture
def browser(monkeypatch) -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"No Chromium at {CHROMIUM}")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the test
    # (seeding, the final checks) would otherwise be refused as "async unsafe".
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # Playwright runs this code in a greenlet with its own context variables, so the ORM
            # opened a connection of its own here; close it, or the test database cannot be dropped.
            connections.close_all()


@pytest.fixture
def demo_study(transactional_db) -> Study:
    study = seed_demo().study
    assert study.stimuli.count() == 15, "seed_demo should create the 15 pilot problems with a right answer"
    return study


def new_page(browser, viewport: dict, javascript: bool = True, locale: str | None = None) -> tuple:
    """A fresh browser context whose requests to Prolific are answered locally and recorded; with `locale`
    (de-DE), a browser set to that language (its Accept-Language)."""
    context = browser.new_context(viewport=viewport, java_script_enabled=javascript, locale=locale)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    prolific_urls: list[str] = []

    def fulfil_prolific(route) -> None:
        prolific_urls.append(route.request.url)
        route.fulfill(
            status=200,
            content_type="text/html",
            body="<!doctype html><title>Prolific</title><h1>Submission complete (stub)</h1>",
        )

    page.route(PROLIFIC_PATTERN, fulfil_prolific)
    page.on("console", lambda message: _note_csp(page, message.text))
    return page, prolific_urls


CSP_REFUSED = "Content Security Policy"


def _note_csp(page, text: str) -> None:
    """Chromium logs what the Content-Security-Policy blocked to the console."""
    if CSP_REFUSED in text:
        page.context.csp_refusals = [*getattr(page.context, "csp_refusals", []), text]


def csp_refusals(page) -> list[str]:
    return getattr(page.context, "csp_refusals", [])


def entry_url(live_server, study: Study, pid: str, session: str | None = None) -> str:
    return (
        f"{live_server.url}/study/{study.slug}/?PROLIFIC_PID={pid}"
        f"&STUDY_ID=demo-study&SESSION_ID={session or secrets.token_hex(8)}"
    )


def consent_and_read_instructions(page) -> None:
    expect(page.get_by_role("heading", name="Consent to take part")).to_be_visible()
    page.get_by_text("Yes, I agree to take part").click()
    expect(page.get_by_role("radio", name="Yes, I agree to take part")).to_be_checked()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Instructions")).to_be_visible()
    page.get_by_role("button", name="Start the first problem").click()
    # the first problem's text can be there before its stylesheet is (a loaded machine): the tests
    # measure the styled page's boxes
    page.wait_for_load_state("load")


def likert_items(page) -> list:
    """The Likert fieldsets of the page's rating form, in the order shown."""
    return page.locator("form.ratings fieldset.likert").all()


def item_code(fieldset) -> str:
    name = fieldset.get_by_role("radio").first.get_attribute("name")
    assert name and name.startswith("item-"), f"Unexpected radio name {name!r}"
    return name.removeprefix("item-")


def answer_by_click(fieldset, value: int) -> None:
    """Click the label of the option with this value, found by its visible text."""
    labels = fieldset.locator(".likert-option span").all_inner_texts()
    assert len(labels) == 5, f"Expected 5 options, got {labels!r}"
    fieldset.get_by_text(labels[value - 1], exact=True).click()
    expect(fieldset.locator("input:checked"), f"clicking {labels[value - 1]!r}").to_have_value(str(value))


def answer_by_keyboard(page, fieldset) -> int:
    """Focus the first radio, select it with Space, then move with the arrow keys; returns the value."""
    fieldset.get_by_role("radio").first.focus()
    page.keyboard.press("Space")
    expect(fieldset.locator("input:checked"), "Space on a focused radio").to_have_value("1")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowDown")
    expect(fieldset.locator("input:checked"), "arrow keys in a radio group").to_have_value("4")
    return 4


def answer_check(fieldset, fail: bool = False) -> int:
    """Answer an attention check as its statement asks (or, to fail it, with another answer)."""
    asked = ATTENTION_ASKS.search(fieldset.locator("legend").inner_text()).group(1)
    value = AGREEMENT.index(asked) + 1
    if fail:
        value = 5 if value != 5 else 1
    answer_by_click(fieldset, value)
    return value


def answer_page(page, fail_checks: bool = False, value: int = 3) -> list[str]:
    """Answer every item of the page; returns the codes of the attention checks on it."""
    checks = []
    for fieldset in likert_items(page):
        if ATTENTION_ASKS.search(fieldset.locator("legend").inner_text()):
            answer_check(fieldset, fail=fail_checks)
            checks.append(item_code(fieldset))
        else:
            answer_by_click(fieldset, value)
    return checks


def test_participant_completes_demo_study(browser, live_server, demo_study):
    screenshot_dir = os.environ.get("STUDY_SCREENSHOT_DIR")
    pid = secrets.token_hex(12)
    page, prolific_urls = new_page(browser, DESKTOP)
    page.goto(entry_url(live_server, demo_study, pid))
    expect(page.locator(".time-left")).to_have_text("Time left: about 60 min")
    consent_and_read_instructions(page)

    clicked: dict[tuple[int | None, str], int] = {}  # (stimulus id, item code) -> value chosen
    positions: dict[tuple[int | None, str], int] = {}
    seen_stimuli: list[int] = []
    attention_seen_on: list[int] = []
    for trial in range(1, 6):
        expect(page, f"trial {trial} URL").to_have_url(re.compile(rf"/trial-{trial}/$"))
        expect(page.locator(".progress-label")).to_have_text(f"Trial {trial} of 5")
        expect(page.get_by_role("heading", name=f"Problem {trial}")).to_be_visible()
        trace = page.locator("div.trace")
        expect(trace, "the trace panel").to_be_visible()
        expect(trace, "the trace panel has text").not_to_have_text("")
        stimulus_id = int(page.locator("input[name=stimulus]").get_attribute("value"))
        seen_stimuli.append(stimulus_id)
        # read down to the end of the trace, as a reader does (clicking the ratings alone jumps past it)
        page.locator("[data-trace-end]").scroll_into_view_if_needed()
        page.wait_for_timeout(300)

        fieldsets = likert_items(page)
        assert len(fieldsets) in (8, 9), f"Trial {trial}: expected 8 or 9 items, found {len(fieldsets)}"
        for position, fieldset in enumerate(fieldsets, start=1):
            code = item_code(fieldset)
            legend = fieldset.locator("legend").inner_text()
            if ATTENTION_ASKS.search(legend):
                attention_seen_on.append(trial)
                assert fieldset.locator(".likert-option span").all_inner_texts() == AGREEMENT
                value = answer_check(fieldset)
            elif trial == 1 and position == 1:
                value = answer_by_keyboard(page, fieldset)
            else:
                value = (trial + position) % 5 + 1
                answer_by_click(fieldset, value)
            clicked[(stimulus_id, code)] = value
            positions[(stimulus_id, code)] = position

        if trial == 1 and screenshot_dir:
            page.screenshot(path=str(Path(screenshot_dir) / "trial-desktop.png"), full_page=True)
        page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_role("heading", name="Final questions")).to_be_visible()
    expect(page.locator(".progress-label")).to_have_text("Final questions · after trial 5 of 5")
    end_fieldsets = likert_items(page)
    assert len(end_fieldsets) == 4, f"Expected 4 end items, found {len(end_fieldsets)}"
    for position, fieldset in enumerate(end_fieldsets, start=1):
        value = position % 5 + 1
        answer_by_click(fieldset, value)
        clicked[(None, item_code(fieldset))] = value
        positions[(None, item_code(fieldset))] = position
    page.get_by_label("Any comments on the study? (optional)").fill("Clear enough, thanks.")
    page.get_by_role("button", name="Finish the study").click()

    # The done page shows the code, the debriefing and a button back to Prolific; it stays put.
    expect(page.locator(".completion-code")).to_have_text("DEMO-COMPLETE")
    expect(page.get_by_role("heading", name="About this study")).to_be_visible()
    page.wait_for_timeout(1500)
    assert prolific_urls == [], "The completion page left for Prolific by itself"
    page.get_by_role("link", name="Return to Prolific").click()
    page.wait_for_url(EXPECTED_RETURN, timeout=TIMEOUT_MS)
    assert page.url == EXPECTED_RETURN
    assert prolific_urls == [EXPECTED_RETURN], f"Requests to Prolific: {prolific_urls}"
    assert csp_refusals(page) == [], "the Content-Security-Policy blocked part of the study"
    page.context.close()

    # What the database holds.
    participant = Participant.objects.get(study=demo_study, prolific_pid=pid)
    assert participant.status == Participant.Status.COMPLETED, participant.status
    assert participant.attention_passed is True
    assert participant.comment == "Clear enough, thanks."
    assert seen_stimuli == participant.stimulus_sequence, "Pages showed stimuli out of the stored order"
    planned = sorted(check["trial"] for check in participant.attention_plan)
    assert attention_seen_on == planned and len(planned) == 2, (
        f"Attention checks seen on trials {attention_seen_on}, stored for trials {planned}"
    )
    assert (participant.device_class, participant.viewport_width) == ("desktop", DESKTOP["width"])

    responses = list(Response.objects.filter(participant=participant).select_related("item"))
    stored = [((r.stimulus_id, r.item.code), r.value) for r in responses]
    assert len(stored) == len(set(k for k, _ in stored)), "More than one Response for an item"
    assert dict(stored) == clicked, "Stored answers differ from what was clicked"
    stored_positions = {(r.stimulus_id, r.item.code): r.position for r in responses}
    assert stored_positions == positions, "Stored positions differ from the order shown"
    per_trial_codes = set(participant.study.items.filter(scope="trial").values_list("code", flat=True))
    end_codes = set(participant.study.items.filter(scope="end").values_list("code", flat=True))
    for number, stimulus_id in enumerate(participant.stimulus_sequence, start=1):
        codes = {code for (s, code) in clicked if s == stimulus_id}
        checks = {c["item"] for c in participant.attention_plan if c["trial"] == number}
        check_codes = set(participant.study.items.filter(pk__in=checks).values_list("code", flat=True))
        expected = {c for c in per_trial_codes if not c.startswith("attention_check")} | check_codes
        assert codes == expected, f"Trial {number}: answered {sorted(codes)}"
    assert {code for (s, code) in clicked if s is None} == end_codes

    visits = {v.page: v for v in PageVisit.objects.filter(participant=participant)}
    pages = ["consent", "instructions", *(f"trial-{n}" for n in range(1, 6)), "questionnaire"]
    assert sorted(visits) == sorted(pages), f"PageVisits: {sorted(visits)}"
    for name in pages:
        assert visits[name].submitted_at is not None, f"{name} has no submitted_at"
        assert visits[name].first_shown_at is not None, f"{name} was never recorded as shown"
    for number, stimulus_id in enumerate(participant.stimulus_sequence, start=1):
        visit = visits[f"trial-{number}"]
        assert visit.stimulus_id == stimulus_id
        # the page's script measured the reading: the trace was on screen, and so was its end
        assert visit.trace_visible_ms is not None and visit.trace_visible_ms > 0, visit.trace_visible_ms
        assert visit.trace_end_seen is True and visit.trace_end_first_seen_ms is not None
        assert 0 < visit.trace_end_visible_ms <= visit.trace_visible_ms
        assert visit.trace_scroll_depth is None  # no longer measured


def put_in_condition(study: Study, pid: str, code: str) -> Participant:
    participant = Participant.objects.get(study=study, prolific_pid=pid)
    condition = Condition.objects.get(study=study, code=code)
    Participant.objects.filter(pk=participant.pk).update(
        condition=condition, trial_conditions=[code] * len(participant.trial_conditions)
    )
    return participant


def test_a_decomposition_trace_reads_as_steps_and_a_long_r1_trace_flows_in_the_page(browser, live_server,
                                                                                 demo_study):
    page, _ = new_page(browser, PHONE)
    pid = secrets.token_hex(12)
    page.goto(entry_url(live_server, demo_study, pid))
    put_in_condition(demo_study, pid, "decomposition")
    consent_and_read_instructions(page)
    trace = page.locator("div.trace")
    text = trace.inner_text()
    assert text.startswith(
        "The temporal relation between the event in question and the event in context is: equal."
    )
    for markup in ("<think>", "</think>", "<answer>", "['", "']"):
        assert markup not in text, f"{markup!r} on screen: {text!r}"
    assert trace.locator("li").count() >= 1  # the facts as a list
    answer = page.locator("p.answer").inner_text()
    assert answer and "<" not in answer and "[" not in answer
    page.context.close()

    # the longest R1 trace of the demo, on a 390 px phone: all of it in the page, the ratings after it
    page, _ = start_on_the_longest_r1_trace(browser, live_server, demo_study, PHONE)
    trace = page.locator("div.trace")
    sizes = trace.evaluate("e => [e.scrollHeight, e.clientHeight, getComputedStyle(e).overflowY]")
    assert sizes[0] == sizes[1] and sizes[2] == "visible", f"the trace scrolls inside a box: {sizes}"
    assert sizes[0] > PHONE["height"], "the longest R1 trace should be taller than the phone's screen"
    trace_box, form_box = trace.bounding_box(), page.locator("form.ratings").bounding_box()
    assert form_box["y"] >= trace_box["y"] + trace_box["height"], "the ratings are not after the trace"
    assert len(trace.inner_text().split()) > 200
    page.context.close()


def start_on_the_longest_r1_trace(browser, live_server, study: Study, viewport: dict) -> tuple:
    """A participant in the R1 condition whose first trial is the demo's longest trace, on its page."""
    longest = max(study.stimuli.all(), key=lambda s: len(s.traces.get(condition="r1").text))
    page, _ = new_page(browser, viewport)
    pid = secrets.token_hex(12)
    page.goto(entry_url(live_server, study, pid))
    participant = put_in_condition(study, pid, "r1")
    Participant.objects.filter(pk=participant.pk).update(
        stimulus_sequence=[longest.pk, *[s for s in participant.stimulus_sequence if s != longest.pk][:4]]
    )
    consent_and_read_instructions(page)
    expect(page.get_by_role("heading", name="Problem 1")).to_be_visible()
    return page, participant


def answer_without_scrolling(page) -> None:
    """Check every item's answer by script, so that the page does not move (a click scrolls to it)."""
    for fieldset in likert_items(page):
        legend = fieldset.locator("legend").inner_text()
        asked = ATTENTION_ASKS.search(legend)
        value = AGREEMENT.index(asked.group(1)) + 1 if asked else 3
        fieldset.locator(f'input[value="{value}"]').evaluate("input => { input.checked = true; }")


TRACE_END_AND_LAST_LINE = """() => {
  const trace = document.querySelector("div.trace");
  const texts = document.createTreeWalker(trace, NodeFilter.SHOW_TEXT);
  let last = null;
  while (texts.nextNode()) { if (texts.currentNode.textContent.trim()) { last = texts.currentNode; } }
  const range = document.createRange();
  range.selectNodeContents(last);
  const lines = range.getClientRects(), line = lines[lines.length - 1];
  const end = document.querySelector("[data-trace-end]").getBoundingClientRect();
  return {line: [line.top, line.bottom], end: [end.top, end.bottom]};
}"""


def end_of_trace_on_screen(page) -> bool:
    return page.locator("[data-trace-end]").evaluate(
        "e => { const box = e.getBoundingClientRect(); return box.top >= 0 && box.bottom <= innerHeight; }"
    )


def test_on_a_phone_the_time_the_end_of_a_long_trace_was_on_screen_is_measured(browser, live_server,
                                                                               demo_study):
    page, participant = start_on_the_longest_r1_trace(browser, live_server, demo_study, PHONE)
    boxes = page.evaluate(TRACE_END_AND_LAST_LINE)
    (line_top, line_bottom), (end_top, end_bottom) = boxes["line"], boxes["end"]
    assert end_top <= line_top and line_bottom <= end_bottom < line_bottom + 10, "the end is the last line"
    answer_without_scrolling(page)
    assert page.evaluate("scrollY") == 0
    assert not end_of_trace_on_screen(page), "the longest R1 trace should end below a phone's screen"
    before_ms = 1200
    page.wait_for_timeout(before_ms)  # reading the start: the end is not on screen

    # the page's own clock (ms since it began loading), the one its script measures with
    scrolled_at = page.locator("[data-trace-end]").evaluate(
        "e => { e.scrollIntoView({block: 'center'}); return performance.now(); }"
    )
    assert end_of_trace_on_screen(page)
    at_end_ms = 1500
    page.wait_for_timeout(at_end_ms)
    left_at = page.evaluate(  # on to the ratings
        "() => { scrollTo(0, document.documentElement.scrollHeight); return performance.now(); }"
    )
    assert not end_of_trace_on_screen(page)
    off_ms = 1500
    page.wait_for_timeout(off_ms)  # answering: the end is off screen and that time is not counted
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Problem 2")).to_be_visible()

    visit = PageVisit.objects.get(participant=participant, page="trial-1")
    measured = (visit.trace_end_seen, visit.trace_end_first_seen_ms, visit.trace_end_visible_ms,
                visit.trace_visible_ms, scrolled_at, left_at)
    assert visit.trace_end_seen is True, measured
    # first on screen when scrolled to (the next frame), not in the wait before
    assert scrolled_at >= before_ms
    assert scrolled_at - 1 <= visit.trace_end_first_seen_ms <= scrolled_at + 500, measured
    # on screen for the wait there, and not in the wait after the page moved on to the ratings
    end_ms = visit.trace_end_visible_ms
    assert at_end_ms - 100 <= end_ms <= left_at - scrolled_at + off_ms / 2, measured
    assert visit.trace_visible_ms >= end_ms  # the trace is on screen whenever its end is
    assert visit.trace_scroll_depth is None
    page.context.close()


def layout_boxes(page) -> dict[str, dict]:
    return {
        name: page.locator(selector).bounding_box()
        for name, selector in [("question", "p.question"), ("trace", "div.trace"), ("answer", "p.answer"),
                               ("ratings", "form.ratings")]
    }


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_models_answer_is_shown_after_the_trace_unless_the_study_puts_it_before(
    browser, live_server, demo_study, viewport
):
    screenshot_dir = os.environ.get("STUDY_SCREENSHOT_DIR")
    width = "desktop" if viewport is DESKTOP else "phone"
    page, _ = start_on_the_longest_r1_trace(browser, live_server, demo_study, viewport)
    boxes = layout_boxes(page)
    trace_bottom = boxes["trace"]["y"] + boxes["trace"]["height"]
    assert trace_bottom <= boxes["answer"]["y"] < boxes["ratings"]["y"], boxes
    order = page.evaluate(
        "[...document.querySelectorAll('div.trace, p.answer, form.ratings')].map(e => e.tagName)"
    )
    assert order == ["DIV", "P", "FORM"], f"DOM order: {order}"
    if screenshot_dir:
        page.screenshot(path=str(Path(screenshot_dir) / f"answer-after-{width}.png"), full_page=True)

    Study.objects.filter(pk=demo_study.pk).update(answer_position="before")
    page.reload()
    boxes = layout_boxes(page)
    assert boxes["question"]["y"] < boxes["answer"]["y"], boxes
    if viewport is PHONE:  # one column: the answer between the question and the trace
        assert boxes["answer"]["y"] + boxes["answer"]["height"] <= boxes["trace"]["y"], boxes
    else:  # two columns: the problem with its answer beside the trace, as it was
        assert boxes["answer"]["x"] + boxes["answer"]["width"] <= boxes["trace"]["x"], boxes
        assert boxes["answer"]["y"] < boxes["trace"]["y"] + boxes["trace"]["height"], boxes
    order = page.evaluate(
        "[...document.querySelectorAll('div.trace, p.answer, form.ratings')].map(e => e.tagName)"
    )
    assert order == ["P", "DIV", "FORM"], f"DOM order: {order}"
    if screenshot_dir:
        page.screenshot(path=str(Path(screenshot_dir) / f"answer-before-{width}.png"), full_page=True)
    page.context.close()


def test_without_javascript_the_study_works_and_the_reading_fields_stay_empty(browser, live_server,
                                                                              demo_study):
    page, _ = new_page(browser, DESKTOP, javascript=False)
    pid = secrets.token_hex(12)
    page.goto(entry_url(live_server, demo_study, pid))
    consent_and_read_instructions(page)
    answer_page(page)
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Problem 2")).to_be_visible()
    participant = Participant.objects.get(study=demo_study, prolific_pid=pid)
    assert participant.viewport_width is None
    visit = PageVisit.objects.get(participant=participant, page="trial-1")
    assert visit.submitted_at is not None
    assert (visit.trace_visible_ms, visit.trace_end_seen, visit.trace_end_first_seen_ms,
            visit.trace_end_visible_ms, visit.trace_scroll_depth) == (None, None, None, None, None)
    page.context.close()


def walk_to_the_end(page, fail_checks: bool) -> None:
    consent_and_read_instructions(page)
    for trial in (1, 2):
        expect(page.get_by_role("heading", name=f"Problem {trial}")).to_be_visible()
        answer_page(page, fail_checks=fail_checks)
        page.get_by_role("button", name="Save and continue").click()
    answer_page(page)
    page.get_by_role("button", name="Finish the study").click()


def test_the_failed_attention_code_comes_after_two_failed_checks_only(browser, live_server, demo_study):
    Study.objects.filter(pk=demo_study.pk).update(trials_per_participant=2)
    page, _ = new_page(browser, DESKTOP)
    page.goto(entry_url(live_server, demo_study, secrets.token_hex(12)))
    walk_to_the_end(page, fail_checks=True)
    expect(page.locator(".completion-code")).to_have_text("DEMO-ATTENTION")
    page.context.close()

    # one check failed, one passed: the participant completes
    page, _ = new_page(browser, DESKTOP)
    pid = secrets.token_hex(12)
    page.goto(entry_url(live_server, demo_study, pid))
    consent_and_read_instructions(page)
    for trial in (1, 2):
        for i, fieldset in enumerate(likert_items(page)):
            if ATTENTION_ASKS.search(fieldset.locator("legend").inner_text()):
                answer_check(fieldset, fail=trial == 1)
            else:
                answer_by_click(fieldset, (i % 5) + 1)
        page.get_by_role("button", name="Save and continue").click()
    answer_page(page)
    page.get_by_role("button", name="Finish the study").click()
    expect(page.locator(".completion-code")).to_have_text("DEMO-COMPLETE")
    assert Participant.objects.get(study=demo_study, prolific_pid=pid).attention_failures == 1
    page.context.close()


def test_someone_elses_prolific_id_opens_nothing_and_a_flood_of_made_up_ids_fills_no_study(
    browser, live_server, demo_study, settings
):
    owner, _ = new_page(browser, DESKTOP)
    pid, session = secrets.token_hex(12), secrets.token_hex(8)
    owner.goto(entry_url(live_server, demo_study, pid, session))
    consent_and_read_instructions(owner)
    answer_page(owner)
    owner.get_by_role("button", name="Save and continue").click()
    their_page = owner.url

    intruder, _ = new_page(browser, DESKTOP)
    their_done_page = their_page.replace("trial-2", "done")
    for url in (entry_url(live_server, demo_study, pid.upper()), their_page, their_done_page):
        response = intruder.goto(url)
        assert response.status == 403, url
        heading = intruder.get_by_role("heading", name="Please open the study from your Prolific link")
        expect(heading).to_be_visible()
        assert "DEMO-COMPLETE" not in intruder.content() and "Problem" not in intruder.content()
    # the owner, on a new device, resumes with their own Prolific link
    again, _ = new_page(browser, DESKTOP)
    again.goto(entry_url(live_server, demo_study, pid, session))
    expect(again.get_by_role("heading", name="Problem 2")).to_be_visible()
    for page in (owner, intruder, again):
        page.context.close()

    # made-up Prolific IDs from one address: after the limit, arrivals are turned away
    settings.ARRIVAL_RATE_LIMIT = "10/h"
    flood, _ = new_page(browser, DESKTOP)
    before = Participant.objects.filter(study=demo_study).count()
    statuses = [
        flood.goto(entry_url(live_server, demo_study, secrets.token_hex(12))).status for _ in range(30)
    ]
    created = Participant.objects.filter(study=demo_study).count() - before
    assert created <= 10 and statuses.count(429) >= 20, (created, statuses)
    expect(flood.get_by_role("heading", name="Please try again in a few minutes")).to_be_visible()
    flood.context.close()


def test_likert_options_stack_on_phone(browser, live_server, demo_study):
    page, _ = new_page(browser, PHONE)
    page.goto(entry_url(live_server, demo_study, secrets.token_hex(12)))
    consent_and_read_instructions(page)
    expect(page.locator(".progress-label")).to_have_text("Trial 1 of 5")
    expect(page.locator("div.trace")).to_be_visible()

    options = likert_items(page)[0].locator(".likert-option")
    boxes = [options.nth(i).bounding_box() for i in range(options.count())]
    assert len(boxes) == 5, f"Expected 5 options, got {len(boxes)}"
    xs = [round(b["x"]) for b in boxes]
    ys = [b["y"] for b in boxes]
    assert len(set(xs)) == 1, f"Options not in one column on a phone: x = {xs}"
    assert ys == sorted(ys) and len(set(ys)) == 5, f"Options not stacked top to bottom: y = {ys}"
    assert all(b["x"] + b["width"] <= PHONE["width"] for b in boxes), "An option runs off the screen"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"The page scrolls sideways on a phone ({width}px wide)"

    screenshot_dir = os.environ.get("STUDY_SCREENSHOT_DIR")
    if screenshot_dir:
        page.screenshot(path=str(Path(screenshot_dir) / "trial-phone.png"), full_page=True)
    page.context.close()


def test_a_participant_reads_a_study_built_from_traces_made_by_jobs(browser, live_server, transactional_db):
    """Reasoning traces, summaries and explanations made by jobs on an OpenAI-compatible server,
    assembled into a study, read and rated by a participant in the summary condition."""
    from studyapp.stimulus_builder import build_stimuli
    from tests.conftest import make_study
    from tests.traces.chat_servers import ReasonerAPI
    from traces import jobs, runners
    from traces.importing import import_problems
    from traces.models import Endpoint, Job, Problem, ReferenceTrace

    import_problems("cotempqa", Path(__file__).parents[1] / "traces/data/cotempqa/equal.json", "equal")
    problems = list(Problem.objects.order_by("pk")[:3])
    api = ReasonerAPI()
    try:
        endpoint = Endpoint.objects.create(name="r1", base_url=api.base_url, model="deepseek-reasoner")
        for kind in (Job.Kind.REASONING, Job.Kind.SUMMARY, Job.Kind.EXPLANATION):
            job = jobs.launch(kind, None, problems, "", {"max_new_tokens": 64}, endpoint=endpoint)
            runners.run_job(job.pk)
            assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED
    finally:
        api.close()
    study = make_study("made", n_stimuli=0, trials=2, status=Study.Status.DRAFT)
    assert len(build_stimuli(study, problems).created) == 3
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LIVE)

    page, _ = new_page(browser, DESKTOP)
    pid = secrets.token_hex(12)
    page.goto(entry_url(live_server, study, pid))
    participant = put_in_condition(study, pid, "r1_summary")
    consent_and_read_instructions(page)
    shown = page.locator("div.trace").inner_text()
    first = participant.stimulus_sequence[0]
    code = study.stimuli.get(pk=first).code
    summary = ReferenceTrace.objects.get(kind="r1_summary", problem__source_id=code)
    assert shown.strip() == summary.text.strip() and summary.text.startswith("Written on request: Summarize")
    assert page.locator("p.answer").inner_text().strip() == "Jaime Lerner"
    answer_page(page)
    page.get_by_role("button", name="Save and continue").click()
    answer_page(page)
    page.get_by_role("button", name="Save and continue").click()
    answer_page(page)
    page.get_by_role("button", name="Finish the study").click()
    expect(page.locator(".completion-code")).to_have_text("C-OK")
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED
    assert Response.objects.filter(participant=participant, stimulus_id=first).exists()
    page.context.close()


def test_the_admin_the_api_docs_and_the_report_work_under_the_content_security_policy(
    browser, live_server, demo_study, django_user_model
):
    django_user_model.objects.create_superuser("boss", "boss@example.org", "pw-boss-123456")
    page, _ = new_page(browser, DESKTOP)
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill("pw-boss-123456")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    for path, shows in [
        (f"/admin/studyapp/study/{demo_study.pk}/change/", "Change study"),
        ("/admin/traces/job/add/", "Add job"),
        ("/admin/studyapp/participant/", "Select participant"),
        (f"/analysis/{demo_study.slug}/", demo_study.title),
    ]:
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_text(shows).first).to_be_visible()
    page.goto(f"{live_server.url}/api/v1/docs/")
    expect(page.locator(".swagger-ui .title").first).to_be_visible()  # drawn by its script, from a file
    assert csp_refusals(page) == [], csp_refusals(page)
    page.context.close()
