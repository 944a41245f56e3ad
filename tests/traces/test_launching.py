"""Choosing a job's problems as a study needs them (balanced over relations, the problems of an earlier
job) and adding endpoints from the command line, as the docs' commands assume."""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from traces.authors_data import import_authors_data
from traces.models import Checkpoint, Endpoint, Job

pytestmark = pytest.mark.django_db

LAUNCH = ["--endpoint", "deepseek", "--dataset", "cotempqa", "--split", "authors", "--side", "test"]


@pytest.fixture
def deepseek() -> Endpoint:
    import_authors_data()
    call_command("add_endpoint", "deepseek", "--base-url", "https://api.deepseek.com/v1", "--model",
                 "deepseek-reasoner", "--key-variable", "DEEPSEEK_API_KEY", stdout=StringIO())
    return Endpoint.objects.get(name="deepseek")


def launched(*args: str) -> Job:
    out = StringIO()
    call_command("launch_job", *args, stdout=out)
    assert "Launched job" in out.getvalue()
    return Job.objects.order_by("-pk").first()


def relations(job: Job) -> Counter:
    return Counter(job.problems.values_list("subset", flat=True))


def test_a_reasoning_job_balanced_over_relations(deepseek):
    """--limit 40 on the authors' test side gave 40 "during" problems; --per-subset 10 gives ten of each
    relation, the same ten for the same seed, others for another."""
    first = launched("reasoning", *LAUNCH, "--limit", "40")
    assert relations(first) == {"during": 40}  # what a limit does: the first 40 in the split's order
    balanced = launched("reasoning", *LAUNCH, "--per-subset", "10", "--draw-seed", "3")
    assert relations(balanced) == {"during": 10, "equal": 10, "mix": 10, "overlap": 10}
    again = launched("reasoning", *LAUNCH, "--per-subset", "10", "--draw-seed", "3")
    other = launched("reasoning", *LAUNCH, "--per-subset", "10", "--draw-seed", "4")
    ids = {job.pk: set(job.problems.values_list("pk", flat=True)) for job in (balanced, again, other)}
    assert ids[balanced.pk] == ids[again.pk] != ids[other.pk]
    # every drawn problem is on the test side of the authors' split
    assert not balanced.problems.exclude(split_memberships__split__name="authors",
                                         split_memberships__side="test").exists()


def test_a_later_job_takes_exactly_the_problems_of_the_reasoning_job(deepseek):
    """Summaries and explanations follow a balanced reasoning job without a hand-made split."""
    reasoning = launched("reasoning", *LAUNCH, "--per-subset", "3")
    explanation = launched("explanation", "--endpoint", "deepseek", "--dataset", "cotempqa",
                           "--problems-of-job", str(reasoning.pk), "--param", "answer_from=gold")
    assert set(explanation.problems.all()) == set(reasoning.problems.all())
    assert relations(explanation) == {"during": 3, "equal": 3, "mix": 3, "overlap": 3}
    with pytest.raises(CommandError, match="no job #999"):
        call_command("launch_job", "explanation", "--endpoint", "deepseek", "--dataset", "cotempqa",
                     "--problems-of-job", "999", stdout=StringIO())


def test_too_few_problems_of_a_relation_is_refused_naming_it(deepseek):
    with pytest.raises(CommandError, match=r"some have fewer \(equal 87\): ask for at most 87"):
        call_command("launch_job", "reasoning", *LAUNCH, "--per-subset", "100", stdout=StringIO())
    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("launch_job", "reasoning", *LAUNCH, "--per-subset", "5", "--limit", "5",
                     stdout=StringIO())
    assert not Job.objects.exists()


def test_the_admin_launches_a_balanced_job(admin_client, deepseek):
    form = {"kind": "reasoning", "endpoint": deepseek.pk, "checkpoint": "", "setting": "",
            "dataset": "cotempqa", "subset": "", "split": "authors", "side": "test", "limit": "",
            "per_subset": 2, "draw_seed": 5, "problems_of_job": "", "parameters_json": "{}"}
    response = admin_client.post(reverse("admin:traces_job_add"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert relations(Job.objects.get()) == {"during": 2, "equal": 2, "mix": 2, "overlap": 2}
    refused = admin_client.post(reverse("admin:traces_job_add"), {**form, "per_subset": 90})
    assert refused.status_code == 200 and "ask for at most 87" in refused.content.decode()
    both = admin_client.post(reverse("admin:traces_job_add"), {**form, "limit": 5})
    assert "either a limit or a number per relation" in both.content.decode()
    assert Job.objects.count() == 1


def test_add_endpoint_stores_the_variable_name_never_a_key():
    out = StringIO()
    call_command("add_endpoint", "vllm-7b", "--base-url", "http://gpu-node-3:8000/v1", "--model",
                 "/models/DeepSeek-R1-Distill-Qwen-7B", "--max-concurrency", "64", "--extra-body",
                 '{"chat_template_kwargs": {"enable_thinking": true}}', stdout=out)
    assert "Added endpoint vllm-7b: http://gpu-node-3:8000/v1" in out.getvalue()
    endpoint = Endpoint.objects.get(name="vllm-7b")
    assert (endpoint.max_concurrency, endpoint.api_key_env, endpoint.max_retries) == (64, "", 8)
    assert endpoint.extra_body == {"chat_template_kwargs": {"enable_thinking": True}}
    with pytest.raises(CommandError, match="name of an environment variable"):
        call_command("add_endpoint", "api", "--base-url", "https://api.deepseek.com/v1", "--model", "m",
                     "--key-variable", "sk-0123456789abcdef", stdout=StringIO())
    with pytest.raises(CommandError, match="base_url"):
        call_command("add_endpoint", "api", "--base-url", "not a url", "--model", "m", stdout=StringIO())
    with pytest.raises(CommandError, match="Leave credentials out of the URL"):
        call_command("add_endpoint", "api", "--base-url", "https://me:sk-secret@api.example.org/v1",
                     "--model", "m", stdout=StringIO())
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("add_endpoint", "api", "--base-url", "http://h:1/v1", "--model", "m", "--extra-body",
                     "{chat", stdout=StringIO())
    assert list(Endpoint.objects.values_list("name", flat=True)) == ["vllm-7b"]  # nothing else stored
    with pytest.raises(CommandError, match=r"exists .* give --replace"):
        call_command("add_endpoint", "vllm-7b", "--base-url", "http://gpu-node-4:8000/v1", "--model", "m",
                     stdout=StringIO())
    call_command("add_endpoint", "vllm-7b", "--base-url", "http://gpu-node-4:8000/v1", "--model", "m",
                 "--replace", stdout=out)
    endpoint.refresh_from_db()
    assert (endpoint.base_url, endpoint.model) == ("http://gpu-node-4:8000/v1", "m")
    assert endpoint.max_concurrency == 64  # what --replace was not given stays


def test_the_admin_accepts_a_cluster_host_name(admin_client):
    """Django's URL check refused http://gpu-node-3:8000/v1, the docs' own example of a vLLM server."""
    response = admin_client.post(reverse("admin:traces_endpoint_add"), {
        "name": "r1-7b", "base_url": "http://gpu-node-3:8000/v1", "model": "/models/r1", "api_key_env": "",
        "max_concurrency": 64, "max_retries": 8, "timeout_s": 900, "extra_body": "{}",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Endpoint.objects.get().base_url == "http://gpu-node-3:8000/v1"


def test_register_checkpoint_refuses_a_folder_that_holds_no_model(tmp_path, tiny_model_dir):
    with pytest.raises(CommandError, match=r"path: No config\.json there: save the model"):
        call_command("register_checkpoint", "empty", str(tmp_path), stdout=StringIO())
    with pytest.raises(CommandError, match="No directory at"):
        call_command("register_checkpoint", "gone", str(tmp_path / "gone"), stdout=StringIO())
    assert not Checkpoint.objects.exists()
    out = StringIO()
    call_command("register_checkpoint", "tiny", str(tiny_model_dir), stdout=out)
    assert f"Registered checkpoint tiny at {tiny_model_dir}." in out.getvalue()
