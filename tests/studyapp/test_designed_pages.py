"""What participants see in studies researchers design themselves: 7-point items, within-participant
designs (each trial in its own condition), the preview of either design and the default debriefing."""

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from studyapp.models import (
    DEFAULT_DEBRIEFING_TEXT,
    DEFAULT_WITHIN_DEBRIEFING_TEXT,
    Condition,
    Item,
    Participant,
    Response,
    StimulusTrace,
    Study,
)
from tests.conftest import Walker, make_study

pytestmark = pytest.mark.django_db

SEVEN = ["Not at all", "Slightly", "Somewhat", "Moderately", "Quite", "Very", "Completely"]


def add_seven_point_item(study: Study, code: str = "clarity_1", *, reverse_keyed: bool = False) -> Item:
    """A per-trial 7-point item, after the default questionnaire's."""
    return Item.objects.create(
        study=study, code=code, construct=code.rsplit("_", 1)[0], scope=Item.Scope.TRIAL,
        text=f"The text was hard to follow ({code}).", scale_points=7, anchors=SEVEN,
        reverse_keyed=reverse_keyed, position=90,
    )


def make_within(slug: str, *, headings: bool = True, **kwargs) -> Study:
    """The paper's four conditions within participants: 8 stimuli, 4 trials (one per condition). With
    ``headings``, each condition has a heading of its own."""
    kwargs = {"n_stimuli": 8, "trials": 4, "target": 8, **kwargs}
    study = make_study(slug, **kwargs)
    Study.objects.filter(pk=study.pk).update(design=Study.Design.WITHIN)
    study.refresh_from_db()
    if headings:
        for condition in study.conditions.all():
            condition.trace_heading = f"The {condition.code} text"
            condition.save()  # saved one by one: the content cache follows saves
    return study


def begin(walker: Walker) -> None:
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})


def field(html: str, name: str) -> str:
    """The fieldset of one item, as the page shows it."""
    return re.search(rf'<fieldset id="field-{name}".*?</fieldset>', html, re.DOTALL).group(0)


# --- 7-point items -------------------------------------------------------------------------------------


def test_a_seven_point_item_is_shown_with_its_anchors_answered_and_stored_as_chosen(client):
    study = make_study("seven")
    add_seven_point_item(study, reverse_keyed=True)
    walker = Walker(client, study)
    begin(walker)
    html = walker.get("trial-1").content.decode()
    item = field(html, "item-clarity_1")
    assert re.findall(r'value="(\d)"', item) == [str(n) for n in range(1, 8)]
    assert all(f"<span>{anchor}</span>" in item for anchor in SEVEN)
    agreement = field(html, "item-predictability_1")
    assert re.findall(r'value="(\d)"', agreement) == [str(n) for n in range(1, 6)]

    data = walker.answers_for("trial-1", 4)
    data["item-clarity_1"] = 7
    walker.post("trial-1", data)
    assert walker.participant.pages_done == 3  # saved and moved on
    stored = Response.objects.get(participant=walker.participant, item__code="clarity_1")
    assert stored.value == 7  # reverse-keyed items are stored as chosen (scored in the analysis)


@pytest.mark.parametrize(("item", "value", "message"), [
    ("item-predictability_1", 6, "Choose one of the points 1 to 5."),
    ("item-clarity_1", 8, "Choose one of the points 1 to 7."),
    ("item-clarity_1", 0, "Choose one of the points 1 to 7."),
])
def test_an_answer_off_the_items_own_scale_is_refused_with_the_message_and_nothing_is_stored(
    client, item, value, message
):
    study = make_study("offscale")
    add_seven_point_item(study)
    walker = Walker(client, study)
    begin(walker)
    data = walker.answers_for("trial-1", 4)
    data[item] = value
    response = walker.post("trial-1", data)
    assert response.status_code == 400
    assert message in field(response.content.decode(), item)
    assert not Response.objects.filter(participant=walker.participant).exists()
    assert walker.participant.pages_done == 2


def instructions_of(study: Study) -> str:
    walker = Walker(Client(), study)
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    return " ".join(unescape(walker.get("instructions").content.decode()).split())


def example_anchors(html: str) -> list[str]:
    example = re.search(r'<fieldset class="likert example-item".*?</fieldset>', html, re.DOTALL).group(0)
    return re.findall(r"<span>([^<]+)</span>", example)


def test_the_instructions_describe_the_studys_own_scales():
    """The example follows the study's items: five points for the paper's questionnaire, seven for a study
    rated on seven points, and both named when the study mixes them."""
    paper = instructions_of(make_study("paper"))
    assert "Each statement is rated on a five-point scale." in paper
    assert example_anchors(paper)[0] == "Strongly disagree" and len(example_anchors(paper)) == 5
    assert 'Other statements are rated from "Very low" to "Very high".' in paper

    seven = make_study("all-seven")
    Item.objects.filter(study=seven).delete()
    add_seven_point_item(seven, "clarity_1")
    add_seven_point_item(seven, "clarity_2")
    html = instructions_of(seven)
    assert "Each statement is rated on a seven-point scale." in html and "five-point" not in html
    assert example_anchors(html) == SEVEN
    assert 'from "Not at all" to "Completely"' in html and "Other statements" not in html

    mixed = make_study("mixed")
    add_seven_point_item(mixed)
    html = instructions_of(mixed)
    assert "Statements are rated on five-point or seven-point scales." in html
    assert 'on a seven-point scale from "Not at all" to "Completely"' in html


# --- within participants -------------------------------------------------------------------------------


def test_within_each_trial_page_shows_its_own_conditions_heading_and_text_and_the_instructions_say_so(client):
    study = make_within("within-pages")
    walker = Walker(client, study)
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    instructions = " ".join(walker.get("instructions").content.decode().split())
    participant = walker.participant
    headings = [f"The {code} text" for code in participant.trial_conditions]
    # each heading once, in the order met, as it reads in a sentence
    shown = ", ".join(f"<strong>{h[:1].lower() + h[1:]}</strong>" for h in headings[:-1])
    last = f"<strong>the {participant.trial_conditions[-1]} text</strong>"
    assert f"a text showing {shown} or {last}" in instructions
    assert ("The kind of text changes from problem to problem: the heading above it says which kind it is."
            in instructions)
    walker.post("instructions", {})
    for n, (stimulus_id, code) in enumerate(zip(participant.stimulus_sequence, participant.trial_conditions,
                                                strict=True), start=1):
        html = walker.get(f"trial-{n}").content.decode()
        assert f'<h2 id="trace-heading">The {code} text</h2>' in html
        text = StimulusTrace.objects.get(stimulus_id=stimulus_id, condition=code).text
        assert text in html
        others = StimulusTrace.objects.filter(stimulus_id=stimulus_id).exclude(condition=code)
        assert not any(other.text in html for other in others)
        walker.post(f"trial-{n}", walker.answers_for(f"trial-{n}"))
    assert sorted(participant.trial_conditions) == sorted(study.conditions.values_list("code", flat=True))


def test_within_the_instructions_say_the_text_changes_even_under_one_heading(client):
    """The paper's four share a heading: a participant reading all four is still told that the kind of text
    changes; a participant of the between study is not."""
    within = instructions_of(make_within("within-one-heading", headings=False))
    assert "a text showing <strong>the model's reasoning</strong>, and" in within
    assert "The kind of text changes from problem to problem. Rate each text on its own." in within
    between = instructions_of(make_study("between-one-heading"))
    assert "a text showing <strong>the model's reasoning</strong>, and" in between
    assert "changes from problem to problem" not in between


def test_a_heading_keeps_its_names_inside_a_sentence(client):
    study = make_study("named")
    Condition.objects.filter(study=study).exclude(code="r1").delete()
    r1 = study.conditions.get()
    r1.trace_heading = "DeepSeek-R1's reasoning"
    r1.save()
    assert "a text showing <strong>DeepSeek-R1's reasoning</strong>" in instructions_of(study)


def test_the_preview_of_a_within_study_needs_no_condition_and_ignores_one(admin_client):
    study = make_within("within-preview", status=Study.Status.DRAFT)
    url = reverse("studyapp:preview", args=[study.slug])
    choose = " ".join(admin_client.get(url).content.decode().split())
    assert "There is no condition to choose (one asked for in the link is ignored)" in choose
    assert 'href="?start=1"' in choose and "?condition=" not in choose
    assert "Rule-based decomposition trace (decomposition): \"The decomposition text\"" in choose
    assert not Participant.objects.exists()  # looking at the page starts nothing

    for query in ({"start": "1"}, {"condition": "r1"}, {"condition": "no-such-code"}):
        page = admin_client.get(url, query, follow=True)
        assert page.resolver_match.kwargs["page"] == "consent"
        preview = Participant.objects.order_by("-pk").first()
        assert preview.is_preview and preview.condition is None
        assert sorted(preview.trial_conditions) == ["decomposition", "posthoc", "r1", "r1_summary"]
    # the last preview walks on: its first trial in that trial's condition
    consent = page.request["PATH_INFO"]
    admin_client.post(consent, {"consent": "yes"})
    html = admin_client.post(consent.replace("consent", "instructions"), follow=True).content.decode()
    assert f'<h2 id="trace-heading">The {preview.trial_conditions[0]} text</h2>' in html


def test_the_preview_of_a_between_study_still_lets_the_researcher_choose(admin_client):
    study = make_study("between-preview", status=Study.Status.DRAFT)
    url = reverse("studyapp:preview", args=[study.slug])
    choose = admin_client.get(url).content.decode()
    assert "Choose the condition to read" in choose and 'href="?condition=r1_summary"' in choose
    assert "no condition to choose" not in choose
    admin_client.get(url, {"condition": "r1_summary"})
    preview = Participant.objects.get()
    assert preview.condition.code == "r1_summary" and set(preview.trial_conditions) == {"r1_summary"}
    unknown = admin_client.get(url, {"condition": "nope"})
    assert unknown.status_code == 400 and "No condition &#x27;nope&#x27;." in unknown.content.decode()
    assert admin_client.get(url, {"start": "1"}).status_code == 200  # between, a choice is still needed
    assert Participant.objects.count() == 1


# --- the default debriefing ----------------------------------------------------------------------------


def test_a_within_study_gets_a_debriefing_that_says_everyone_read_every_kind(client):
    within = Study.objects.create(slug="w", title="W", design=Study.Design.WITHIN, completion_code="C",
                                  no_consent_code="N", failed_attention_code="A")
    assert within.debriefing_text == DEFAULT_WITHIN_DEBRIEFING_TEXT
    assert "You read every kind" in within.debriefing_text and "one kind" not in within.debriefing_text
    between = Study.objects.create(slug="b", title="B", completion_code="C", no_consent_code="N",
                                   failed_attention_code="A")
    assert between.debriefing_text == DEFAULT_DEBRIEFING_TEXT
    between.title = "B, renamed"
    between.save()  # an existing study keeps its text
    between.refresh_from_db()
    assert between.debriefing_text == DEFAULT_DEBRIEFING_TEXT
    own = Study.objects.create(slug="o", title="O", design=Study.Design.WITHIN, debriefing_text="Our words.",
                               completion_code="C", no_consent_code="N", failed_attention_code="A")
    assert own.debriefing_text == "Our words."  # a researcher's own text is never replaced

    study = make_within("within-done", n_stimuli=4)
    Study.objects.filter(pk=study.pk).update(debriefing_text=DEFAULT_WITHIN_DEBRIEFING_TEXT)
    done = Walker(client, study).complete().content.decode()
    assert "You read every kind, each on different problems." in done
