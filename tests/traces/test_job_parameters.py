"""A job's parameters are parsed once into a typed object per kind of job, from the flat, validated
parameters it stores; what runs the job reads that object, never the job's JSON."""

from __future__ import annotations

import pytest

from traces.job_parameters import FineTuneJob, GenerationJob, JobError, Prompting, TraceJob, parse
from traces.jobs import clean_parameters
from traces.models import Job
from traces.run_settings import GenerationSettings, TrainingSettings


@pytest.mark.parametrize(("kind", "typed"), [
    ("generate", GenerationJob), ("evaluate", GenerationJob), ("finetune", FineTuneJob),
    ("reasoning", TraceJob), ("summary", TraceJob), ("explanation", TraceJob),
])
def test_every_kind_of_job_parses_its_defaults(kind, typed):
    assert set(Job.Kind.values) == {"generate", "evaluate", "finetune", "reasoning", "summary", "explanation"}
    parameters = parse(kind, clean_parameters(kind, {}))
    assert type(parameters) is typed and parameters.enable_thinking is None
    if typed is FineTuneJob:
        assert parameters.training == TrainingSettings() and parameters.preset == "cpu_small"
        assert parameters.split == "authors" and parameters.prompting == Prompting()
    else:
        assert parameters.decoding == GenerationSettings(do_sample=False if kind == "summary" else None)
        assert parameters.batch_size == 16


def test_given_values_arrive_typed():
    generate = parse("generate", clean_parameters("generate", {
        "temperature": "0.6", "stop_strings": "###", "prompt_style": "authors", "model_family": "Qwen",
        "enable_thinking": "false", "split": "", "batch_size": "4",
    }))
    assert generate.decoding.temperature == 0.6 and generate.decoding.stop_strings == ("###",)
    assert generate.prompting == Prompting(style="authors", model_family="Qwen")
    assert (generate.enable_thinking, generate.split, generate.batch_size) == (False, "", 4)
    tune = parse("finetune", clean_parameters("finetune", {"preset": "authors", "learning_rate": "1e-4"}))
    assert tune.training.qlora and tune.training.optimizer == "paged_adamw_8bit"
    assert tune.training.learning_rate == 1e-4 and tune.preset == "authors"
    gold = parse("explanation", clean_parameters("explanation", {"answer_from": "gold", "traces_from": "x"}))
    assert not gold.works_from_reasoning("explanation") and gold.traces_from == "x"
    assert parse("summary", clean_parameters("summary", {})).works_from_reasoning("summary")


def test_a_job_stored_before_a_parameter_existed_takes_its_default():
    stored = {"prompt_style": "project", "max_new_tokens": 64}
    assert parse("generate", stored).decoding == GenerationSettings(max_new_tokens=64)


def test_the_system_message_follows_the_style_and_family():
    assert Prompting().system_message("Llama-3.2-1B-Instruct") == ""
    assert Prompting(system_prompt="Be brief.").system_message("anything") == "Be brief."
    assert Prompting(style="authors").system_message("Llama-3.2-1B-Instruct").startswith("You are Llama")
    with pytest.raises(JobError):
        Prompting(style="authors").system_message("tiny-random")
