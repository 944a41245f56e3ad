"""Reasoning traces, summaries and post-hoc explanations made in the platform, on real
OpenAI-compatible servers started here: ``transformers serve`` on a tiny local model, and a server
answering as DeepSeek's API does (the reasoning apart, in ``reasoning_content``)."""

from __future__ import annotations

import logging
import threading
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from traces import jobs, loaders, runners, trace_prompts
from traces.grading.outputs import score_answer
from traces.importing import PILOT_FILE, import_authors_traces, import_reference_traces
from traces.models import Endpoint, Job, ModelOutput, Problem, ReferenceTrace

from .chat_servers import ReasonerAPI, ServedModel

pytestmark = pytest.mark.slow

AUTHORS = Path(__file__).parent / "data" / "authors_traces"
SECRET = "sk-test-0123456789abcdef-never-stored"
FAST = {"max_new_tokens": 12, "do_sample": False}


@pytest.fixture(scope="module")
def served(tiny_model_dir, tmp_path_factory):
    server = ServedModel(tiny_model_dir, tmp_path_factory.mktemp("serve") / "serve.log")
    yield server
    server.stop()


@pytest.fixture
def reasoner():
    api = ReasonerAPI(fail_first=2)
    yield api
    api.close()


@pytest.fixture
def pilot_problems(equal_problems) -> list[Problem]:
    import_reference_traces(PILOT_FILE, "authors (cotempqa_pilot)")
    return list(Problem.objects.filter(reference_traces__isnull=False).distinct().order_by("pk"))


def endpoint_for(server, **fields) -> Endpoint:
    model = str(server.model_dir) if isinstance(server, ServedModel) else "deepseek-reasoner"
    name = fields.pop("name", "e")
    return Endpoint.objects.create(name=name, base_url=server.base_url, model=model, **fields)


def run(kind, problems, endpoint, setting="", **parameters) -> Job:
    job = jobs.launch(kind, None, problems, setting, {**FAST, **parameters}, endpoint=endpoint)
    runners.run_job(job.pk)
    job.refresh_from_db()
    return job


def test_the_prompts_are_the_authors_and_templates_are_checked():
    problem = loaders.Problem("cotempqa", "equal", "x", "Who?", ["A is B.", "C is D."], ["B"])
    asked = trace_prompts.reasoning_messages(problem.question, problem.facts,
                                             trace_prompts.DEFAULT_TEMPLATES["reasoning"])
    pilot_prompt = ("Answer the question based on the context:\nA is B.\nC is D.\nQuestion: Who? "
                    "Only return the answer.\n")
    assert asked == [{"role": "user", "content": pilot_prompt}]  # the pilot README's formula
    with pytest.raises(trace_prompts.TemplateError, match=r"uses \{trce\}"):
        trace_prompts.check_template("summary", "Summarise {trce}")
    with pytest.raises(trace_prompts.TemplateError, match=r"must contain \{trace\}"):
        trace_prompts.check_template("summary", "Summarise this.")
    with pytest.raises(jobs.JobError, match="not a valid template"):
        jobs.clean_parameters(Job.Kind.SUMMARY, {"prompt_template": "Summarise {trace"})
    explanation = jobs.clean_parameters(Job.Kind.EXPLANATION, {})["prompt_template"]
    assert explanation.endswith("\n Explanation: ")  # the authors' prompt, trailing space kept


def test_a_reply_is_read_into_reasoning_and_answer():
    assert trace_prompts.read_reply("B", "I think B.") == trace_prompts.ReadReply("I think B.", "B")
    assert trace_prompts.read_reply("<think>\nhmm\n</think>\n\nB") == trace_prompts.ReadReply("hmm", "B")
    assert trace_prompts.read_reply("hmm</think>B").reasoning == "hmm"  # R1-Distill opened <think> itself
    cut = trace_prompts.read_reply("still thinking", think_opened=True)
    assert (cut.reasoning, cut.answer) == ("still thinking", "") and "never ended" in cut.notes[0]
    direct = trace_prompts.read_reply("B")
    assert (direct.reasoning, direct.answer) == ("", "B") and "no reasoning" in direct.notes[0]


@pytest.mark.django_db
def test_reasoning_traces_from_a_reasoning_api_retry_and_keep_the_key_out(
    reasoner, equal_problems, monkeypatch, caplog
):
    monkeypatch.setenv("TEST_REASONER_KEY", SECRET)
    endpoint = endpoint_for(reasoner, api_key_env="TEST_REASONER_KEY", max_concurrency=2)
    caplog.set_level(logging.DEBUG)
    problems = equal_problems[:3]
    job = run(Job.Kind.REASONING, problems, endpoint)
    assert job.status == Job.Status.SUCCEEDED, job.error
    traces = list(ReferenceTrace.objects.filter(job=job).order_by("problem_id"))
    assert [t.problem_id for t in traces] == [p.pk for p in problems]
    for trace, problem in zip(traces, problems, strict=True):
        assert (trace.kind, trace.source, trace.model_name) == ("r1", f"job #{job.pk}", "deepseek-reasoner")
        assert trace.text.startswith("Reasoning about: Answer the question based on the context")
        assert trace.answer == "Jaime Lerner"
        assert trace.answer_correct == score_answer("Jaime Lerner", problem.as_plain()).exact_match
        assert trace.prompt == trace_prompts.reasoning_messages(
            problem.question, problem.facts, trace_prompts.DEFAULT_TEMPLATES["reasoning"])
        assert trace.details["settings"]["temperature"] == 0.0 and trace.details["completion_tokens"] == 7
    # two 429s were retried (Retry-After honoured), and the key went only into the Authorization header
    assert len(reasoner.received) == 3 + 2
    assert {r["authorization"] for r in reasoner.received} == {f"Bearer {SECRET}"}
    out = StringIO()
    call_command("dumpdata", "traces", stdout=out)
    assert SECRET not in out.getvalue() and SECRET not in caplog.text and SECRET not in job.log


@pytest.mark.django_db
def test_a_missing_key_variable_fails_the_job_in_words(reasoner, equal_problems, monkeypatch):
    monkeypatch.delenv("TEST_REASONER_KEY", raising=False)
    job = run(Job.Kind.REASONING, equal_problems[:1], endpoint_for(reasoner, api_key_env="TEST_REASONER_KEY"))
    assert job.status == Job.Status.FAILED
    assert "TEST_REASONER_KEY" in job.error and "not set on this worker" in job.error
    with pytest.raises(ValidationError, match="not a key"):
        Endpoint(name="x", base_url="http://h/v1", model="m", api_key_env=SECRET).full_clean()


@pytest.mark.django_db
def test_summaries_and_explanations_on_transformers_serve(served, pilot_problems):
    endpoint = endpoint_for(served)
    problems = pilot_problems[:3]
    r1 = {t.problem_id: t for t in ReferenceTrace.objects.filter(kind="r1", problem__in=problems)}
    summary_job = run(Job.Kind.SUMMARY, problems, endpoint)
    assert summary_job.status == Job.Status.SUCCEEDED, summary_job.error
    assert summary_job.setting == "r1_summary"
    for summary in ReferenceTrace.objects.filter(job=summary_job):
        source = r1[summary.problem_id]
        assert summary.kind == "r1_summary" and summary.based_on == source
        template = trace_prompts.DEFAULT_TEMPLATES["summary"]
        assert summary.prompt == trace_prompts.summary_messages(source.text, template)
        assert summary.answer == source.answer and summary.answer_correct == source.answer_correct
        assert summary.details["settings"]["temperature"] == 0.0  # the authors' summaries were greedy
        assert summary.model_name == str(served.model_dir)

    explanation_job = run(Job.Kind.EXPLANATION, problems, endpoint, traces_from="authors (cotempqa_pilot)")
    assert explanation_job.status == Job.Status.SUCCEEDED, explanation_job.error
    explanation = ReferenceTrace.objects.filter(job=explanation_job).first()
    source = r1[explanation.problem_id]
    problem = source.problem
    asked = trace_prompts.reasoning_messages(problem.question, problem.facts,
                                             trace_prompts.DEFAULT_TEMPLATES["reasoning"])[0]["content"]
    # the authors' layout: the problem, R1's trace and its answer as two assistant turns, the request
    assert [(m["role"], m["content"]) for m in explanation.prompt] == [
        ("user", asked), ("assistant", source.text), ("assistant", source.answer),
        ("user", trace_prompts.DEFAULT_TEMPLATES["explanation"]),
    ]
    assert explanation.based_on == source and explanation.answer == source.answer

    # a second source of reasoning traces makes "which one?" a question the launch asks
    ReferenceTrace.objects.create(problem=problems[0], kind="r1", text="another", source="elsewhere")
    with pytest.raises(jobs.JobError, match="several sources"):
        jobs.launch(Job.Kind.SUMMARY, None, problems, "", FAST, endpoint=endpoint)


@pytest.mark.django_db
def test_a_summary_job_without_reasoning_traces_is_refused(served, equal_problems):
    with pytest.raises(jobs.JobError, match="has a reasoning trace"):
        jobs.launch(Job.Kind.SUMMARY, None, equal_problems[:2], "", FAST, endpoint=endpoint_for(served))
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_evaluation_on_a_server_stopped_and_restarted_mid_job_completes_asking_each_once(
    served, equal_problems, settings
):
    settings.JOB_HEARTBEAT_S = 60
    endpoint = endpoint_for(served, max_concurrency=2, max_retries=10)
    problems = equal_problems[:8]
    before = served.requests()
    restarts = []

    def restart_after_two_answers() -> None:
        deadline = time.monotonic() + 120
        while served.requests() < before + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        served.stop()
        time.sleep(1)
        served.start()
        restarts.append(1)

    watcher = threading.Thread(target=restart_after_two_answers)
    watcher.start()
    job = run(Job.Kind.EVALUATE, problems, endpoint, "vanilla", max_new_tokens=48, split="")
    watcher.join()
    assert restarts and job.status == Job.Status.SUCCEEDED, job.error
    outputs = ModelOutput.objects.filter(evaluation__job=job)
    assert outputs.count() == 8 and job.metrics["overall"]["n"] == 8
    assert served.requests() - before == 8  # each problem answered once; the lost ones were re-sent
    assert job.evaluation.model_name == str(served.model_dir)
    assert job.evaluation.details["base_url"] == served.base_url


@pytest.mark.django_db
def test_a_re_run_asks_nothing_it_has(served, equal_problems):
    endpoint = endpoint_for(served)
    job = run(Job.Kind.REASONING, equal_problems[:5], endpoint)
    assert job.status == Job.Status.SUCCEEDED, job.error
    asked = served.requests()
    ReferenceTrace.objects.filter(job=job, problem__in=equal_problems[:2]).delete()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED)
    jobs.rerun(job)
    runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert served.requests() - asked == 2 and ReferenceTrace.objects.filter(job=job).count() == 5
    assert "Resuming: 3 of 5" in job.log


@pytest.mark.django_db
def test_the_authors_trace_files_import_matched_to_their_problems(equal_problems):
    files = {"r1": "sft_dataset_r1_traces", "r1_summary": "sft_dataset_summarized_r1_traces",
             "posthoc": "sft_dataset_r1_explanations"}
    for kind, stem in files.items():
        result = import_authors_traces(AUTHORS / f"{stem}_equal_test_head.csv", kind)
        assert (result.created, result.already_there) == (3, 0)
    summary = ReferenceTrace.objects.get(kind="r1_summary", problem__source_id="cotempqa-equal-291")
    assert summary.text.startswith("On October 16, 1923, Henry Barwell")
    assert summary.answer == "Liberal Federation" and summary.answer_correct is True
    assert summary.model_name == "gpt-4o-mini"
    assert summary.source == "sft_dataset_summarized_r1_traces_equal_test_head.csv"
    again = import_authors_traces(AUTHORS / "sft_dataset_r1_traces_equal_test_head.csv", "r1")
    assert (again.created, again.already_there) == (0, 3)


@pytest.mark.django_db
def test_an_authors_file_with_an_unknown_problem_imports_nothing(equal_problems, tmp_path):
    text = (AUTHORS / "sft_dataset_r1_traces_equal_test_head.csv").read_text()
    bad = tmp_path / "bad.csv"
    bad.write_text(text.replace("Question: While Henry Barwell", "Question: While Nobody", 1))
    with pytest.raises(loaders.LoadError, match=r"no stored CoTempQA problem .* line 2"):
        import_authors_traces(bad, "r1")
    assert not ReferenceTrace.objects.exists()
    out = StringIO()
    call_command("import_reference_traces", str(AUTHORS / "sft_dataset_r1_traces_equal_test_head.csv"),
                 "--kind", "r1", stdout=out)
    assert "Imported 3 traces" in out.getvalue()


@pytest.mark.django_db
def test_trace_jobs_launch_from_the_admin_and_the_command(admin_client, reasoner, equal_problems):
    from django.urls import reverse

    endpoint = endpoint_for(reasoner)
    from traces.authors_data import import_authors_data

    import_authors_data()  # the authors' split, which the form offers by default
    response = admin_client.post(reverse("admin:traces_job_add"), {
        "kind": "reasoning", "endpoint": endpoint.pk, "setting": "", "dataset": "cotempqa", "subset": "equal",
        "split": "authors", "side": "test", "limit": 2, "parameters_json": '{"max_new_tokens": 32}',
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get()
    assert (job.kind, job.setting, job.endpoint, job.checkpoint) == ("reasoning", "r1", endpoint, None)
    both = admin_client.post(reverse("admin:traces_job_add"), {
        "kind": "summary", "endpoint": endpoint.pk, "checkpoint": "", "setting": "", "dataset": "cotempqa",
        "subset": "equal", "split": "", "side": "test", "limit": 2, "parameters_json": "{}",
    })
    assert both.status_code == 200 and "has a reasoning trace" in both.content.decode()
    out = StringIO()
    call_command("launch_job", "explanation", "--endpoint", "e", "--dataset", "cotempqa", "--subset", "equal",
                 "--split", "authors", "--limit", "2", "--param", "answer_from=gold", stdout=out)
    assert "Launched job" in out.getvalue()
    assert Job.objects.filter(kind="explanation", parameters__answer_from="gold").count() == 1


@pytest.mark.django_db
def test_requests_run_concurrently_up_to_the_limit_and_a_cancel_stops_asking(equal_problems, monkeypatch):
    from traces import trace_jobs

    api = ReasonerAPI(delay_s=0.2)
    try:
        endpoint = endpoint_for(api, max_concurrency=3)
        job = run(Job.Kind.REASONING, equal_problems[:9], endpoint)
        assert job.status == Job.Status.SUCCEEDED and api.most_in_flight == 3

        real_check = trace_jobs.stop_if_cancelled
        checks = []

        def cancel_after_two_replies(running: Job) -> None:
            checks.append(1)
            if len(checks) == 2:
                jobs.cancel(running)
            real_check(running)

        monkeypatch.setattr(trace_jobs, "stop_if_cancelled", cancel_after_two_replies)
        api.received.clear()
        endpoint.max_concurrency = 1
        endpoint.save()
        cancelled = run(Job.Kind.REASONING, equal_problems[10:16], endpoint)
        assert cancelled.status == Job.Status.CANCELLED
        stored = ReferenceTrace.objects.filter(job=cancelled).count()
        assert stored == 2 and len(api.received) <= 3  # what came back is kept; one more at most in flight
    finally:
        api.close()


@pytest.mark.django_db
def test_the_admin_imports_the_authors_traces(admin_client, equal_problems):
    from django.urls import reverse

    url = reverse("admin:traces_referencetrace_import")
    assert admin_client.get(url).status_code == 200
    with (AUTHORS / "sft_dataset_r1_explanations_equal_test_head.csv").open("rb") as handle:
        response = admin_client.post(url, {"kind": "posthoc", "source": "", "file": handle})
    assert response.status_code == 302
    assert ReferenceTrace.objects.filter(kind="posthoc").count() == 3
    listing = admin_client.get(reverse("admin:traces_referencetrace_changelist")).content.decode()
    assert "sft_dataset_r1_explanations_equal_test_head.csv" in listing


@pytest.mark.django_db
def test_re_importing_the_pilot_fills_in_answers_traces_stored_without_them(equal_problems):
    problem = Problem.objects.get(source_id="cotempqa-equal-291")
    source = "authors (cotempqa_pilot)"
    old = ReferenceTrace.objects.create(problem=problem, kind="r1", text="kept", source=source)
    result = import_reference_traces(PILOT_FILE, source)
    old.refresh_from_db()
    assert result.already_there == 1 and old.text == "kept"
    assert (old.answer, old.answer_correct) == ("Liberal Federation", True)


@pytest.mark.django_db
def test_trace_jobs_run_on_a_local_r1_distill_checkpoint(tmp_path_factory, pilot_problems):
    """R1-Distill's template opens <think> in the prompt: the whole reply is reasoning until </think>."""
    from traces.modeling import build_tiny_model
    from traces.models import Checkpoint

    path = build_tiny_model(tmp_path_factory.mktemp("r1"), family="deepseek_r1_distill")
    checkpoint = Checkpoint.objects.create(name="tiny-r1-distill", path=str(path))
    problems = pilot_problems[:2]
    job = jobs.launch(Job.Kind.REASONING, checkpoint, problems, "", {**FAST, "batch_size": 2})
    runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    traces = list(ReferenceTrace.objects.filter(job=job))
    assert len(traces) == 2 and all(t.model_name == "tiny-r1-distill" for t in traces)
    for trace in traces:
        assert trace.details["prompt_text"].rstrip().endswith("<think>")
        assert trace.text and trace.answer == "" and trace.answer_correct is None  # cut at 12 tokens
        assert "never ended" in trace.details["notes"][0]
        assert trace.details["checkpoint"] == "tiny-r1-distill"
    from_job = {**FAST, "traces_from": f"job #{job.pk}"}
    summary = jobs.launch(Job.Kind.SUMMARY, checkpoint, problems, "", from_job)
    runners.run_job(summary.pk)
    summary.refresh_from_db()
    assert summary.status == Job.Status.SUCCEEDED, summary.error
    assert {t.based_on.job_id for t in ReferenceTrace.objects.filter(job=summary)} == {job.pk}
