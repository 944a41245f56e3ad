"""Stimuli drawn from a model's graded outputs: balanced over the ground truth (answer right or wrong, and
for decomposition traces correct or incorrect trace), each keeping its grades and where they come from,
the model's own text in the conditions of its kind; what cannot be built is refused with a reason and
nothing changes.

Data: the paper authors' fine-tuned Llama-3.2-1B-Instruct's published outputs on their CoTempQA test
problems (traces/data/trace_check_qa, see its PROVENANCE.md), graded by the project's graders."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from studyapp.models import Condition, Item, Participant, Stimulus, Study, TraceKind, TrialJudgement
from studyapp.output_stimuli import (
    build_from_outputs,
    draw_by_truth,
    group_outputs,
    output_grades,
    output_groups,
    truth_cell,
)
from studyapp.stimulus_builder import BuildError
from studyapp.study_setup import readiness_problems
from tests.conftest import Walker, make_study, new_pid
from tests.studyapp.judged import judged_study
from tests.studyapp.test_trial_tasks import check_scored_exactly
from traces.authors_data import AUTHORS_DIR, PUBLISHED_MODEL, import_authors_data
from traces.evaluations import import_outputs
from traces.grading.parsing import short_answer

pytestmark = pytest.mark.django_db
OUTPUTS = AUTHORS_DIR / "cotempqa" / "outputs" / PUBLISHED_MODEL
RELATIONS = ("equal", "mix", "overlap")


@pytest.fixture
def outputs() -> list:
    """The authors' model's outputs in the decomposition_correct setting on three relations."""
    import_authors_data()
    for relation in RELATIONS:
        import_outputs(OUTPUTS / "decomposition_correct" / f"{relation}.jsonl", dataset="cotempqa",
                       model_name=PUBLISHED_MODEL, setting="decomposition_correct", subset=relation)
    return group_outputs(PUBLISHED_MODEL, "decomposition_correct", "cotempqa")


def _study(slug: str, task: str = "verification", definition: str = "published") -> Study:
    """A study whose two conditions show the model's decomposition trace or its answer alone (no per-trial
    items: they would rate a text the second does not show)."""
    study = judged_study(slug, task, n_stimuli=0, items=False, live=False)
    study.conditions.all().delete()
    Condition.objects.create(study=study, code="trace", label="The model's trace",
                             trace_kind=TraceKind.DECOMPOSITION, position=1)
    Condition.objects.create(study=study, code="answer", label="Answer only",
                             trace_kind=TraceKind.ANSWER_ONLY, position=2)
    Study.objects.filter(pk=study.pk).update(truth_definition=definition)
    study.refresh_from_db()
    return study


def test_the_draw_is_balanced_over_trace_and_answer_and_reproducible(outputs):
    assert [(g.model_name, g.setting, g.dataset, g.outputs) for g in output_groups()] == [
        (PUBLISHED_MODEL, "decomposition_correct", "cotempqa", 331)]
    drawn = draw_by_truth(outputs, 12, definition="published", by_trace=True, seed=3)
    cells = Counter(truth_cell(output_grades(o), "published", True) for o in drawn)
    assert cells == {(True, True): 3, (True, False): 3, (False, True): 3, (False, False): 3}
    # the cells' truth is the stored grades' own: both steps right, the paper's answer metric
    for output in drawn:
        trace, answer = truth_cell(output_grades(output), "published", True)
        assert answer is output.answer_correct
        assert trace is (output.classification_published and output.retrieval_published)
    assert {o.problem.subset for o in drawn} == set(RELATIONS)  # spread over the relations
    assert [o.pk for o in drawn] == [o.pk for o in draw_by_truth(outputs, 12, definition="published",
                                                                  by_trace=True, seed=3)]
    assert [o.pk for o in drawn] != [o.pk for o in draw_by_truth(outputs, 12, definition="published",
                                                                  by_trace=True, seed=4)]
    answers = Counter(o.answer_correct_strict for o in draw_by_truth(outputs, 10, definition="strict",
                                                                      by_trace=False))
    assert answers == {True: 5, False: 5}


def test_a_draw_the_outputs_cannot_give_is_refused_with_what_there_is(outputs):
    # by the strict rule this model's CoTempQA traces are almost never right in both steps
    with pytest.raises(BuildError, match=r"Not enough outputs for 2 in each cell under the strict grades "
                                         r"\(correct trace, right answer: [01];"):
        draw_by_truth(outputs, 8, definition="strict", by_trace=True)
    with pytest.raises(BuildError, match="needs a multiple of 4 stimuli, not 10"):
        draw_by_truth(outputs, 10, definition="published", by_trace=True)


def test_stimuli_keep_the_output_its_grades_and_their_source(outputs):
    study = _study("from-outputs")
    drawn = draw_by_truth(outputs, 8, definition="published", by_trace=True)
    result = build_from_outputs(study, drawn)
    assert sorted(result.created) == sorted(o.problem.source_id for o in drawn) and not result.completed
    for output in drawn:
        stimulus = Stimulus.objects.get(study=study, code=output.problem.source_id)
        assert stimulus.model_answer == short_answer(output.answer) and stimulus.model_answer
        assert stimulus.model_answer_original == output.answer
        assert stimulus.answer_correct("published") is output.answer_correct
        assert stimulus.answer_correct("strict") is output.answer_correct_strict
        assert stimulus.grades["classification_intended"] is output.classification_authors
        assert stimulus.grades["source"].startswith(f"evaluation #{output.evaluation_id}: {PUBLISHED_MODEL} "
                                                    f"decomposition_correct on cotempqa/")
        texts = {t.condition: t for t in stimulus.traces.all()}
        assert texts["trace"].text == output.raw_text and texts["answer"].text == ""
        assert texts["trace"].provenance["output"] == output.pk
        texts["answer"].full_clean()
        texts["trace"].text = ""
        with pytest.raises(ValidationError, match="A text is needed: only a condition of the kind"):
            texts["trace"].full_clean()
    assert readiness_problems(study) == []
    study.status = Study.Status.LIVE
    study.full_clean()
    Item.objects.create(study=study, code="clear_1", construct="understandability", scope=Item.Scope.TRIAL,
                        text="The text was clear.", anchors=["1", "2", "3", "4", "5"])
    assert readiness_problems(study) == [
        "Condition 'answer' shows the model's answer alone, but the study has per-trial items, which rate "
        "the text shown; make them end-of-study items or give the condition a kind of text."]


def test_conditions_of_another_kind_of_text_are_refused_and_nothing_is_built(outputs):
    paper = make_study("paper-four", n_stimuli=0, status=Study.Status.DRAFT)
    with pytest.raises(BuildError, match=r"are rule-based decomposition traces; DeepSeek-R1 trace \(a "
                                         r"reasoning model's trace\), .* would show another kind of text"):
        build_from_outputs(paper, outputs[:4])
    assert not paper.stimuli.exists()
    vanilla = import_outputs(OUTPUTS / "vanilla" / "equal.jsonl", dataset="cotempqa",
                             model_name=PUBLISHED_MODEL, setting="vanilla", subset="equal")
    with pytest.raises(BuildError, match="'vanilla' setting hold no trace to show"):
        build_from_outputs(_study("plain"), list(vanilla.outputs.all()[:2]))
    with pytest.raises(BuildError, match="one model in one setting"):
        build_from_outputs(_study("mixed"), [outputs[0], *vanilla.outputs.all()[:1]])


def test_a_stimulus_someone_answered_is_kept_and_the_others_remade(outputs):
    study = _study("remade")
    build_from_outputs(study, outputs[:2])
    judged, fresh = (Stimulus.objects.get(study=study, code=o.problem.source_id) for o in outputs[:2])
    participant = Participant.objects.create(study=study, prolific_pid=new_pid(),
                                             condition=study.conditions.first(),
                                             stimulus_sequence=[judged.pk], trial_conditions=["trace"],
                                             item_order=[], end_item_order=[])
    TrialJudgement.objects.create(participant=participant, stimulus=judged, condition="trace",
                                  task="verification", choice="yes", correct=True, truth="yes", confidence=3)
    Stimulus.objects.filter(pk__in=[judged.pk, fresh.pk]).update(model_answer="edited")
    result = build_from_outputs(study, outputs[:2])
    assert (result.skipped_rated, result.completed) == ([judged.code], [fresh.code])
    judged.refresh_from_db(), fresh.refresh_from_db()
    assert judged.model_answer == "edited" and fresh.model_answer == short_answer(outputs[1].answer)


def test_a_simulation_study_gets_candidates_and_masked_texts_and_no_multi_answer_stimulus(outputs):
    study = _study("simulate-outputs", task="simulation")
    several = [o for o in outputs if ";" in short_answer(o.answer or "")]
    with pytest.raises(BuildError, match="names several of the candidates"):
        build_from_outputs(study, several[:1])
    drawn = draw_by_truth(outputs, 8, definition="published", by_trace=False, task="simulation")
    assert not set(drawn) & set(several)
    build_from_outputs(study, drawn)
    for stimulus in study.stimuli.prefetch_related("traces"):
        assert stimulus.answer_candidates
        trace = next(t for t in stimulus.traces.all() if t.condition == "trace")
        answer_part = trace.masked_text.split("</think>")[1]
        assert "hidden" in answer_part and stimulus.model_answer not in answer_part
    assert readiness_problems(study) == []


def test_a_verification_study_of_right_answers_only_cannot_go_live(outputs):
    study = _study("right-only")
    right = [o for o in outputs if o.answer_correct][:4]
    build_from_outputs(study, right)
    problems = readiness_problems(study)
    assert problems == ["A verification study needs both right and wrong model answers among its stimuli; it "
                        "has 4 right and 0 wrong (published grades)."]


def test_a_verification_study_built_from_outputs_is_scored_against_their_grades(outputs, capsys,
                                                                               django_user_model):
    """Bots with set accuracies walk it (the answer-only condition included); each stored judgement's truth
    is the output's published answer grade, and a participant of the answer-only condition reads the
    problem and the answer with no text and no heading of one."""
    django_user_model.objects.create_superuser("researcher", "r@example.org", "pw")
    study = _study("walked")
    build_from_outputs(study, draw_by_truth(outputs, 8, definition="published", by_trace=True, seed=1))
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LIVE)
    call_command("pilot", study.slug, "--participants", "12", "--seed", "5",
                 "--accuracy", "trace=0.9,answer=0.6")
    assert "All 12 bots reached the completion page" in capsys.readouterr().out
    by_condition = check_scored_exactly(study)
    assert sorted(by_condition) == ["answer", "trace"]
    grades = {s.pk: s.answer_correct("published") for s in study.stimuli.all()}
    for judgement in TrialJudgement.objects.filter(participant__study=study):
        assert judgement.truth == ("yes" if grades[judgement.stimulus_id] else "no")
    walker = next(w for w in (Walker(Client(), study) for _ in range(6))
                  if w.arrive() and w.participant.condition.code == "answer")
    walker.post("consent", {"consent": "yes"})
    instructions = walker.last.content.decode()
    assert "the <strong>answer</strong> an AI model gave." in instructions
    assert "a text showing" not in instructions
    walker.post("instructions", {})
    page = walker.last.content.decode()
    stimulus = Stimulus.objects.get(pk=walker.participant.stimulus_sequence[0])
    assert 'id="trace-heading"' not in page and "<think>" not in page
    assert '<section class="problem" aria-label="The problem" data-reading data-stimulus>' in page
    assert f'<p class="answer">{stimulus.model_answer}</p>' in page
    assert 'name="judgement"' in page and "answer correct?" in page


def test_the_admin_page_and_the_command_draw_and_build_or_say_why_not(outputs, client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("admin", "a@example.org", "pw"))
    study = _study("by-admin")
    url = reverse("admin:studyapp_study_build_from_outputs", args=[study.pk])
    page = client.get(url).content.decode()
    assert f"{PUBLISHED_MODEL} · decomposition_correct · cotempqa (331 outputs)" in page
    form = {"outputs": f"{PUBLISHED_MODEL}|decomposition_correct|cotempqa", "subset": "", "count": 6,
            "balance": "answer_trace", "seed": 0}
    refused = client.post(url, form)
    assert refused.status_code == 400 and "needs a multiple of 4 stimuli, not 6" in refused.content.decode()
    assert not study.stimuli.exists()
    assert client.post(url, {**form, "count": 8}).status_code == 302
    assert Counter(s.answer_correct("published") for s in study.stimuli.all()) == {True: 4, False: 4}

    other = _study("by-command", task="simulation")
    out = io.StringIO()
    call_command("stimuli_from_outputs", other.slug, "--model", PUBLISHED_MODEL, "--setting",
                 "decomposition_correct", "--dataset", "cotempqa", "--subset", "equal", "--count", "4",
                 stdout=out)
    assert out.getvalue() == "by-command: 4 stimuli made, 0 remade, 0 left as participants answered them.\n"
    assert {s.code.rsplit("-", 1)[0] for s in other.stimuli.all()} == {"cotempqa-equal"}
    assert readiness_problems(other) == []
    with pytest.raises(CommandError, match="Only decomposition traces have steps graded right or wrong"):
        call_command("stimuli_from_outputs", other.slug, "--model", PUBLISHED_MODEL, "--setting", "r1",
                     "--dataset", "cotempqa", "--balance", "answer_trace")
    with pytest.raises(CommandError, match="No stored outputs of nobody in the vanilla setting on cotempqa"):
        call_command("stimuli_from_outputs", other.slug, "--model", "nobody", "--setting", "vanilla",
                     "--dataset", "cotempqa")
