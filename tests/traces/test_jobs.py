"""Importing problems, launching jobs and running them on a tiny model, as an admin would."""

import io
from pathlib import Path

import pytest
from django.urls import reverse

from traces import jobs, loaders, modeling, runners
from traces.importing import import_problems
from traces.models import Checkpoint, Job, ModelOutput, Problem

from .conftest import DATA

pytestmark = pytest.mark.django_db
# No stored split in these tests (see test_splits.py): the published step lookup reads the job's problems.
FAST = {"max_new_tokens": 24, "batch_size": 4, "split": ""}


def test_importing_cotempqa_is_idempotent():
    first = import_problems("cotempqa", DATA / "overlap.json", "overlap")
    again = import_problems("cotempqa", DATA / "overlap.json", "overlap")
    assert (first.created, first.already_there) == (653, 0)
    assert (again.created, again.already_there) == (0, 653)
    problem = Problem.objects.get(source_id="cotempqa-overlap-0")
    assert problem.facts and problem.gold_answers and problem.question.startswith("While")


def test_a_malformed_file_is_refused_whole_naming_its_line():
    good = (DATA / "equal.json").read_text().splitlines()[:3]
    broken = io.StringIO("\n".join([*good, '{"index": 99, "question": "no facts"}']) + "\n")
    with pytest.raises(loaders.LoadError, match="line 4"):
        import_problems("cotempqa", broken, "equal")
    assert not Problem.objects.exists()


def test_admin_upload_imports_or_explains(admin_client):
    url = reverse("admin:traces_problem_import")
    bad = io.BytesIO(b'{"index": 1}\nnot json\n')
    bad.name = "bad.json"
    response = admin_client.post(url, {"format": "cotempqa", "subset": "equal", "file": bad})
    assert response.status_code == 400
    assert "Nothing was imported" in response.content.decode() and "line 1" in response.content.decode()
    assert not Problem.objects.exists()
    with (DATA / "equal.json").open("rb") as good:
        response = admin_client.post(url, {"format": "cotempqa", "subset": "equal", "file": good})
    assert response.status_code == 302
    assert Problem.objects.filter(subset="equal").count() == 436


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"max_tokens": 5}, "Unknown parameters"),
        ({"max_new_tokens": "many"}, "must be a int"),
        ({"max_new_tokens": 0}, "between"),
        ({"do_sample": "maybe"}, "true or false"),
        ({"temperature": -1}, "between"),
    ],
)
def test_bad_job_parameters_are_refused_with_a_reason(given, message):
    with pytest.raises(jobs.JobError, match=message):
        jobs.clean_parameters(Job.Kind.GENERATE, given)


def test_parameters_take_defaults_and_types():
    cleaned = jobs.clean_parameters(Job.Kind.GENERATE, {"max_new_tokens": "64", "do_sample": "true"})
    assert cleaned["max_new_tokens"] == 64 and cleaned["do_sample"] is True
    assert cleaned["batch_size"] == jobs.GENERATION_DEFAULTS["batch_size"]
    assert jobs.clean_parameters(Job.Kind.FINETUNE, {})["max_steps"] == modeling.TrainingSettings().max_steps
    # the model's own decoding unless the job says otherwise; the authors' recipe as a preset
    assert jobs.clean_parameters(Job.Kind.GENERATE, {})["temperature"] is None
    authors = jobs.clean_parameters(Job.Kind.FINETUNE, {"preset": "authors", "learning_rate": 1e-4})
    assert (authors["lora_r"], authors["lora_alpha"], authors["qlora"], authors["optimizer"]) == (
        16, 32, True, "paged_adamw_8bit"
    )
    assert authors["learning_rate"] == 1e-4 and authors["gradient_accumulation"] == 4
    given = {"stop_strings": ["</answer>"], "enable_thinking": "no"}
    cleaned = jobs.clean_parameters(Job.Kind.GENERATE, given)
    assert cleaned["stop_strings"] == ["</answer>"] and cleaned["enable_thinking"] is False
    with pytest.raises(jobs.JobError, match="preset must be one of"):
        jobs.clean_parameters(Job.Kind.FINETUNE, {"preset": "fast"})
    with pytest.raises(jobs.JobError, match="list of non-empty strings"):
        jobs.clean_parameters(Job.Kind.GENERATE, {"stop_strings": [1]})


def test_a_checkpoint_must_be_a_local_save_pretrained_directory(tmp_path):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="No directory"):
        Checkpoint(name="x", path=str(tmp_path / "absent")).full_clean()
    with pytest.raises(ValidationError, match=r"config\.json"):
        Checkpoint(name="x", path=str(tmp_path)).full_clean()


def test_generation_stores_graded_outputs_with_tokens_and_progress(checkpoint, equal_problems):
    job = jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[:6], "vanilla", FAST)
    runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert (job.progress_done, job.progress_total) == (6, 6)
    evaluation = job.evaluation
    assert (evaluation.model_name, evaluation.setting, evaluation.source) == ("tiny", "vanilla", "job")
    outputs = ModelOutput.objects.filter(evaluation=evaluation)
    assert outputs.count() == 6
    assert sorted(outputs.values_list("position", flat=True)) == list(range(6))
    for output in outputs:
        assert output.prompt.startswith("<|user|>Answer the question based on the context:\n")
        assert output.prompt_tokens > 0 and 0 < output.completion_tokens <= FAST["max_new_tokens"]
        assert output.latency_ms >= 0
        assert output.generation_settings["max_new_tokens"] == FAST["max_new_tokens"]  # what made it
        # A random model writes no decomposition: graded wrong, with the reason kept.
        assert not output.classification_strict and output.grade_notes
    assert "Attempt 1 started" in job.log and "Succeeded" in job.log


def test_evaluation_reports_table_1_figures_consistent_with_its_outputs(checkpoint, equal_problems):
    job = jobs.launch(Job.Kind.EVALUATE, checkpoint, equal_problems[:5], "decomposition_correct", FAST)
    runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    outputs = list(job.evaluation.outputs.all())
    overall = job.metrics["overall"]
    assert overall["n"] == 5 and set(job.metrics["relations"]) == {"equal"}
    assert overall["answer_em"] == 100 * sum(o.answer_correct for o in outputs) / 5
    assert overall["unevaluated"] == sum(o.unevaluated for o in outputs)
    for definition in ("published", "authors", "strict"):
        table = job.metrics["tables"][definition]["answer_x_trace"]
        assert sum(table.values()) == 5 - overall["unevaluated"]
    assert "Answer exact match" in job.log and "P(correct answer | correct trace)" in job.log


def test_a_resumed_job_generates_only_what_is_missing(checkpoint, equal_problems, monkeypatch):
    job = jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[:6], "vanilla", {**FAST, "batch_size": 2})
    real_generate = modeling.generate
    calls = []

    def dies_after_two_batches(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker lost")
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(modeling, "generate", dies_after_two_batches)
    runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "worker lost" in job.error
    outputs = job.evaluation.outputs
    assert outputs.count() == 4 and job.progress_done == 4
    first = {t.problem_id: t.raw_text for t in outputs.all()}

    jobs.rerun(job)
    runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2
    assert outputs.count() == 6 == outputs.values("problem").distinct().count()
    assert {t.problem_id: t.raw_text for t in outputs.filter(problem_id__in=first)} == first
    assert "Resuming: 4 of 6" in job.log


def test_output_with_nul_characters_is_stored_and_graded_not_a_crash(
    checkpoint, equal_problems, monkeypatch
):
    def writes_nul(model, tokenizer, prompts, settings, options=None):
        return [modeling.Generation(p, "<answer>x\x00y</answer>", 10, 3, 0.01) for p in prompts]

    monkeypatch.setattr(modeling, "generate", writes_nul)
    job = jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[:2], "vanilla", FAST)
    runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    output = job.evaluation.outputs.first()
    assert output.raw_text == "<answer>x\ufffdy</answer>" and not output.answer_correct
    assert any("NUL" in note for note in output.grade_notes)


def test_cancelling(checkpoint, equal_problems, monkeypatch):
    queued = jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[:2], "vanilla", FAST)
    jobs.cancel(queued)
    runners.run_job(queued.pk)
    queued.refresh_from_db()
    assert queued.status == Job.Status.CANCELLED and not ModelOutput.objects.exists()

    running = jobs.launch(
        Job.Kind.GENERATE, checkpoint, equal_problems[:6], "vanilla", {**FAST, "batch_size": 2}
    )
    real_generate = modeling.generate

    def cancel_during_first_batch(*args, **kwargs):
        jobs.cancel(Job.objects.get(pk=running.pk))
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(modeling, "generate", cancel_during_first_batch)
    runners.run_job(running.pk)
    running.refresh_from_db()
    assert running.status == Job.Status.CANCELLED
    assert running.evaluation.outputs.count() == 2, "the batch in flight is kept, no further batch starts"
    with pytest.raises(jobs.JobError, match="already finished"):
        jobs.cancel(running)


def test_a_missing_model_fails_the_job_with_the_error_and_it_can_be_rerun(equal_problems, tmp_path):
    gone = Checkpoint.objects.create(name="gone", path=str(tmp_path / "gone"))
    job = jobs.launch(Job.Kind.GENERATE, gone, equal_problems[:1], "vanilla", FAST)
    runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error
    assert jobs.rerun(job).status == Job.Status.QUEUED
    with pytest.raises(jobs.JobError, match="Only failed, cancelled or lost"):
        jobs.rerun(job)


def test_fine_tuning_registers_a_new_checkpoint_that_loads(checkpoint, equal_problems, settings, tmp_path):
    settings.CHECKPOINT_DIR = tmp_path
    job = jobs.launch(
        Job.Kind.FINETUNE, checkpoint, equal_problems[:40], "decomposition_correct",
        {"max_steps": 4, "batch_size": 2, "split": ""},
    )
    runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert (job.progress_done, job.progress_total) == (4, 4)
    assert len(job.metrics["losses"]) == 4 and job.metrics["train_examples"] > 0
    trained = Checkpoint.objects.get(made_by=job)
    assert trained.base == checkpoint and trained.setting == "decomposition_correct"
    assert Path(trained.path).is_relative_to(tmp_path)
    assert trained.is_adapter and job.metrics["adapter"]  # the adapter alone, loaded onto its base
    trained.full_clean()
    model, tokenizer = modeling.load_model(*trained.model_paths())
    assert model is not None and tokenizer is not None


def test_fine_tuning_without_reference_traces_fails_with_a_clear_reason(checkpoint, equal_problems):
    job = jobs.launch(Job.Kind.FINETUNE, checkpoint, equal_problems[:5], "r1", {"max_steps": 1, "split": ""})
    runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "No training examples for setting r1" in job.error


def test_admin_launches_a_job_from_the_add_form_and_shows_its_progress(
    admin_client, checkpoint, equal_problems
):
    response = admin_client.post(
        reverse("admin:traces_job_add"),
        {
            "kind": "generate", "checkpoint": checkpoint.pk, "setting": "vanilla", "dataset": "cotempqa",
            "subset": "equal", "split": "", "side": "test", "limit": 3,
            "parameters_json": '{"max_new_tokens": 8, "split": ""}',
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    job = Job.objects.get()
    assert job.problems.count() == 3 and job.parameters["max_new_tokens"] == 8
    assert job.created_by.is_superuser and job.status == Job.Status.QUEUED
    bad = admin_client.post(
        reverse("admin:traces_job_add"),
        {"kind": "generate", "checkpoint": checkpoint.pk, "setting": "vanilla", "dataset": "cotempqa",
         "side": "test", "parameters_json": '{"max_new_tokens": -3}'},
    )
    assert bad.status_code == 200 and "max_new_tokens must be between" in bad.content.decode()
    assert Job.objects.count() == 1
    runners.run_job(job.pk)
    page = admin_client.get(reverse("admin:traces_job_change", args=[job.pk])).content.decode()
    assert "3 / 3" in page and "Succeeded" in page


def test_reference_traces_import_for_imported_problems_only(equal_problems, tmp_path):
    from traces.importing import PILOT_FILE, import_reference_traces
    from traces.models import ReferenceTrace

    result = import_reference_traces(PILOT_FILE)
    assert (result.created, result.already_there) == (48, 0)
    trace = ReferenceTrace.objects.get(problem__source_id="cotempqa-equal-291", kind="r1_summary")
    assert trace.text.startswith("On October 16, 1923, Henry Barwell")
    assert import_reference_traces(PILOT_FILE).created == 0
    stray = tmp_path / "stray.jsonl"
    stray.write_text('{"id": "cotempqa-equal-291", "traces": {"r1": "x"}}\n{"id": "nope", "traces": {}}\n')
    with pytest.raises(loaders.LoadError, match="line 2: nope"):
        import_reference_traces(stray)
    assert ReferenceTrace.objects.count() == 48


def test_fine_tuning_on_r1_traces_uses_the_reference_traces(checkpoint, equal_problems, settings, tmp_path):
    from traces.importing import PILOT_FILE, import_reference_traces

    settings.CHECKPOINT_DIR = tmp_path
    import_reference_traces(PILOT_FILE)
    job = jobs.launch(
        Job.Kind.FINETUNE, checkpoint, equal_problems, "r1", {"max_steps": 2, "batch_size": 2, "split": ""}
    )
    runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert 0 < job.metrics["train_examples"] <= 16
    assert job.metrics["skipped"] == 436 - 16


def test_admin_cancels_and_reruns_jobs_and_says_when_it_cannot(admin_client, checkpoint, equal_problems):
    from django.contrib.messages import get_messages

    url = reverse("admin:traces_job_changelist")
    job = jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[:1], "vanilla", FAST)
    admin_client.post(url, {"action": "cancel_jobs", "_selected_action": [job.pk]})
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    admin_client.post(url, {"action": "rerun_jobs", "_selected_action": [job.pk]})
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
    runners.run_job(job.pk)
    response = admin_client.post(url, {"action": "rerun_jobs", "_selected_action": [job.pk]}, follow=True)
    assert "Only failed, cancelled or lost jobs can be re-run" in " ".join(
        str(m) for m in get_messages(response.wsgi_request)
    )
    listing = admin_client.get(url).content.decode()
    assert "Answer exact match" in listing


def test_a_worker_process_loads_a_checkpoint_once_for_several_jobs(checkpoint, equal_problems, monkeypatch):
    from traces import model_cache

    loads = []
    real_load = modeling.load_model
    monkeypatch.setattr(model_cache, "_loaded", {})
    monkeypatch.setattr(
        modeling, "load_model", lambda path, base=None: loads.append(path) or real_load(path, base)
    )
    for _ in range(3):
        runners.run_job(jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[:1], "vanilla", FAST).pk)
    assert loads == [checkpoint.path]


@pytest.mark.slow
def test_the_traces_demo_seeds_once_and_its_model_runs_a_job(settings, tmp_path):
    from traces.demo import DEMO_CHECKPOINT, seed_traces_demo

    settings.VAR_DIR = tmp_path
    first = seed_traces_demo()
    again = seed_traces_demo()
    # CoTempQA's 1,652 problems, the 619 "during" test problems, bAbI's 3,773 + 376
    assert first.problems_created == 6420
    assert (first.evaluations_created, first.reference_traces_created) == (15, 48)
    assert (again.problems_created, again.evaluations_created, again.reference_traces_created) == (0, 0, 0)
    assert again.checkpoint == first.checkpoint and first.checkpoint.name == DEMO_CHECKPOINT
    test_side = jobs.select_problems("cotempqa", "during", split="authors", side="test", limit=2)
    job = jobs.launch(Job.Kind.EVALUATE, first.checkpoint, test_side, "vanilla", {**FAST, "split": "authors"})
    runners.run_job(job.pk)
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED


def test_the_models_settings_are_the_sft_settings():
    """Jobs store sft's setting names, and fine-tuning finds reference traces by kind == setting."""
    from traces import sft
    from traces.models import ReferenceTrace, Setting

    assert tuple(Setting.values) == sft.SETTINGS
    assert tuple(ReferenceTrace.Kind.values) == sft.TRACE_SETTINGS
