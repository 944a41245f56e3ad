"""Steps of a trace as a participant marks them, and the graded first wrong step a mark is scored
against."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client

from studyapp import exports
from studyapp.models import (
    GRADE_KEYS,
    Condition,
    PageVisit,
    Participant,
    Response,
    Stimulus,
    StimulusTrace,
    Study,
    TrialTask,
)
from studyapp.rendering import render_trace, trace_steps
from studyapp.step_rating import NO_WRONG_STEP, first_wrong_step, mark_from
from tests.conftest import Walker, make_study

DECOMPOSITION = ("<think>The temporal relation between the event in question and the event in context is: "
                 "equal.\nI need to use the following facts to answer the question: ['A is in B.', 'C is in "
                 "D.']</think> <answer>['Liberal Federation']</answer>")
PROSE = "First I look at the dates.\n\n- 1990 to 1995\n- 1996 on\n\n## So\n\nThe answer is *B*."


def test_a_decomposition_trace_is_its_classification_and_retrieval_steps():
    steps = trace_steps(DECOMPOSITION)
    assert len(steps) == 2
    assert steps[0] == ("<p>The temporal relation between the event in question and the event in context "
                        "is: equal.</p>")
    assert steps[1].startswith("<p>I need to use the following facts to answer the question:</p>")
    assert "<li>A is in B.</li><li>C is in D.</li>" in steps[1] and "answer&gt;" not in steps[1]


def test_a_prose_trace_is_its_paragraphs_lists_and_headings_and_joined_is_the_trace_as_shown():
    steps = trace_steps(PROSE)
    assert [s.split(">", 1)[0] + ">" for s in steps] == ["<p>", "<ul>", "<h2>", "<p>"]
    assert "".join(steps) == render_trace(PROSE)
    assert "<em>B</em>" in steps[3]
    assert trace_steps("<script>alert(1)</script>")[0] == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"


@pytest.mark.parametrize(("classification", "retrieval", "expected"), [
    (True, True, NO_WRONG_STEP), (False, True, 1), (False, False, 1), (True, False, 2),
])
def test_the_first_wrong_step_is_where_the_graded_steps_first_fail(classification, retrieval, expected):
    grades = {"classification_strict": classification, "retrieval_strict": retrieval,
              "classification_published": True, "retrieval_published": True}
    assert first_wrong_step(grades, "strict", 2) == expected
    assert first_wrong_step(grades, "published", 2) == NO_WRONG_STEP


def test_an_ungraded_trace_or_one_shown_otherwise_has_no_truth():
    assert first_wrong_step({}, "strict", 2) is None
    assert first_wrong_step({"classification_strict": True}, "strict", 2) is None
    assert first_wrong_step({"classification_strict": True, "retrieval_strict": False}, "strict", 1) is None


def test_a_posted_mark_is_a_step_shown_or_none():
    assert [mark_from(v, 3) for v in ("0", "1", "3")] == [0, 1, 3]
    assert [mark_from(v, 3) for v in ("4", "-1", "", "x", "1.0", None)] == [None] * 6


# --- a study with step rating -------------------------------------------------------------------------

@pytest.fixture
def stepped(db):
    """A rating study with step rating whose decomposition traces are real decomposition traces, the
    first problem graded wrong at its retrieval step (strict), the others ungraded."""
    study = make_study("steps", trials=2)
    Study.objects.filter(pk=study.pk).update(step_rating=True)
    StimulusTrace.objects.filter(stimulus__study=study, condition="decomposition").update(text=DECOMPOSITION)
    first = study.stimuli.order_by("id").first()
    Stimulus.objects.filter(pk=first.pk).update(grades={**dict.fromkeys(GRADE_KEYS, True),
                                                        "retrieval_strict": False})
    study.refresh_from_db()
    return study


def start_in(study: Study, code: str) -> Walker:
    """A participant in condition ``code`` whose first trial is the graded problem, at that trial."""
    walker = Walker(Client(), study)
    walker.arrive()
    first = study.stimuli.order_by("id").first().pk
    sequence = walker.participant.stimulus_sequence
    Participant.objects.filter(pk=walker.participant.pk).update(
        condition=Condition.objects.get(study=study, code=code), trial_conditions=[code] * len(sequence),
        stimulus_sequence=[first, *[s for s in sequence if s != first][: len(sequence) - 1]],
    )
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    return walker


def test_a_step_rating_page_numbers_the_steps_asks_for_the_first_wrong_one_and_scores_it(stepped):
    walker = start_in(stepped, "decomposition")
    page = walker.get("trial-1").content.decode()
    assert '<ol class="trace-steps"><li id="step-1"><p class="step-label">Step 1</p>' in page
    assert "Which step of the text is the first one that is wrong?" in page
    assert [f'name="first_wrong_step" value="{v}"' in page for v in ("1", "2", "0")] == [True] * 3
    assert 'value="3"' not in page.split("first_wrong_step")[-1][:40]
    answers = walker.answers_for("trial-1")
    sent_back = walker.post("trial-1", answers)  # no mark: the page comes back, nothing is saved
    assert sent_back.status_code == 400 and "Please choose the first wrong step" in sent_back.content.decode()
    assert not Response.objects.filter(participant=walker.participant).exists()
    walker.post("trial-1", {**answers, "first_wrong_step": "7"})  # not a step shown: sent back too
    assert walker.last.status_code == 400
    walker.post("trial-1", {**answers, "first_wrong_step": "2"})
    visit = PageVisit.objects.get(participant=walker.participant, page="trial-1")
    assert (visit.steps_shown, visit.first_wrong_step, visit.first_wrong_step_truth,
            visit.first_wrong_step_correct) == (2, 2, 2, True)  # graded wrong at retrieval
    saved = walker.get("trial-1").content.decode()  # going back: the mark shown, read-only
    assert 'name="first_wrong_step" value="2" checked disabled' in saved
    rows = exports.page_times_table(stepped, exports.ParticipantFilter())
    row = next(dict(zip(rows.header, r, strict=True)) for r in rows.rows() if r[4] == "trial-1")
    assert [row[name] for name, _ in exports.STEP_COLUMNS] == [2, 2, 2, 1]


def test_a_prose_trace_is_marked_by_paragraph_and_left_unscored(stepped):
    StimulusTrace.objects.filter(stimulus__study=stepped, condition="r1").update(text=PROSE)
    walker = start_in(stepped, "r1")
    assert '<li id="step-4">' in walker.get("trial-1").content.decode()
    walker.post("trial-1", {**walker.answers_for("trial-1"), "first_wrong_step": "0"})
    visit = PageVisit.objects.get(participant=walker.participant, page="trial-1")
    assert (visit.steps_shown, visit.first_wrong_step, visit.first_wrong_step_truth,
            visit.first_wrong_step_correct) == (4, 0, None, None)


def test_step_rating_is_an_option_of_the_rating_task_only(stepped):
    stepped.trial_task = TrialTask.VERIFICATION
    with pytest.raises(ValidationError, match="Step rating is an option of the rating task"):
        stepped.clean()


def test_pilot_bots_mark_a_step_and_complete_a_step_rating_study(stepped, capsys, django_user_model):
    django_user_model.objects.create_superuser("researcher", "r@example.org", "pw")
    Study.objects.filter(pk=stepped.pk).update(status=Study.Status.DRAFT)
    call_command("pilot", "steps", "--participants", "4", "--seed", "3", "--answers", "3")
    assert "All 4 bots reached the completion page" in capsys.readouterr().out
    marks = PageVisit.objects.filter(participant__study=stepped, page__startswith="trial-")
    assert marks.count() == 8 and not marks.filter(first_wrong_step__isnull=True).exists()
