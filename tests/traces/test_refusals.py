"""A job a worker cannot run is refused before anything heavy loads, in words that say what to change,
in the job's log, its error and its admin page; a checkpoint run in another dtype than it is stored in
is said, with the memory each takes."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from django.urls import reverse
from transformers import AutoModelForCausalLM, LlamaConfig

from traces import jobs, model_cache, runners
from traces.modeling import PRESETS, Refused, TrainingSettings, Worker, preflight
from traces.modeling.device import available_memory, container_headroom
from traces.modeling.loading import quiet_peft
from traces.modeling.resources import ModelSize, check_fits, dtype_note, memory_needed, model_size
from traces.modeling.training import bitsandbytes_uses, check_settings, lora_config
from traces.models import Checkpoint, Job

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
AUTHORS = TrainingSettings(**PRESETS["authors"])
NO_GPU = Worker(CPU, torch.float32, bitsandbytes=False)
GPU_WITHOUT_BITSANDBYTES = Worker(CUDA, torch.bfloat16, bitsandbytes=False)
GPU = Worker(CUDA, torch.bfloat16, bitsandbytes=True)
# Llama 3.1 8B's counts, as model_size finds them from its config.json.
EIGHT_B = ModelSize(parameters=8_030_261_248, quantizable=6_979_321_856, adapter=0, stored=torch.bfloat16)


def test_bitsandbytes_without_a_gpu_or_without_the_package_is_refused_saying_what_to_set():
    with pytest.raises(Refused) as no_gpu:
        check_settings(AUTHORS, NO_GPU)
    assert str(no_gpu.value) == (
        "qlora=true and optimizer=paged_adamw_8bit need bitsandbytes on a CUDA GPU, and this worker has no "
        "GPU. Set qlora=false and optimizer=adamw_torch to fine-tune here, or run the job on a GPU worker."
    )
    lora = replace(AUTHORS, qlora=False)
    with pytest.raises(Refused) as optimizer:
        check_settings(lora, NO_GPU)
    assert str(optimizer.value) == (
        "optimizer=paged_adamw_8bit needs bitsandbytes on a CUDA GPU, and this worker has no GPU. Set "
        "optimizer=adamw_torch to fine-tune here, or run the job on a GPU worker."
    )
    with pytest.raises(Refused) as missing:
        check_settings(AUTHORS, GPU_WITHOUT_BITSANDBYTES)
    assert str(missing.value) == (
        "qlora=true and optimizer=paged_adamw_8bit need bitsandbytes, which this worker cannot import (the "
        "GPU image installs it from requirements-gpu.txt). Set qlora=false and optimizer=adamw_torch, or run "
        "the job on a worker that has it."
    )
    check_settings(AUTHORS, GPU)  # the authors' recipe where bitsandbytes runs
    check_settings(replace(lora, optimizer="adamw_torch"), NO_GPU)  # and its LoRA on the CPU


@pytest.mark.parametrize(("optimizer", "needs"), [
    ("adamw_8bit", True), ("adamw_bnb_8bit", True), ("paged_adamw_8bit", True), ("paged_adamw_32bit", True),
    ("lion_8bit", True), ("paged_lion_8bit", True),
    ("adamw_torch", False), ("adamw_torch_fused", False), ("adafactor", False), ("sgd", False),
])
def test_every_optimizer_a_job_may_name_is_known_to_need_bitsandbytes_or_not(optimizer, needs):
    jobs.clean_parameters(Job.Kind.FINETUNE, {"optimizer": optimizer})  # one a job may name
    assert bitsandbytes_uses(TrainingSettings(optimizer=optimizer)) == (
        [(f"optimizer={optimizer}", "optimizer=adamw_torch")] if needs else []
    )


def test_a_dtype_other_than_the_stored_one_is_said_with_the_memory_it_takes():
    assert dtype_note(EIGHT_B, torch.float32, CPU) == (
        "The checkpoint is stored in bfloat16; this worker runs it in float32 (the CPU runs float32), so its "
        "8.03 billion parameters take 32.1 GB instead of 16.1 GB."
    )
    assert dtype_note(EIGHT_B, torch.float32, CUDA, training=True) == (
        "The checkpoint is stored in bfloat16; this worker trains it in float32 (full fine-tuning keeps "
        "float32 weights), so its 8.03 billion parameters take 32.1 GB instead of 16.1 GB."
    )
    assert "runs it in float16 (this GPU runs float16)" in dtype_note(EIGHT_B, torch.float16, CUDA)
    assert dtype_note(EIGHT_B, torch.bfloat16, CUDA) is None


def test_the_estimate_counts_the_model_and_adapter_that_load(tiny_model_dir):
    """Counted on the meta device from config.json, the same numbers as the loaded model and adapter."""
    from peft import get_peft_model

    settings = TrainingSettings()
    size = model_size(tiny_model_dir, settings)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert size.parameters == sum(p.numel() for p in model.parameters())
    assert size.quantizable == sum(m.weight.numel() for m in model.modules()
                                   if isinstance(m, torch.nn.Linear) and m is not model.lm_head)
    with quiet_peft():
        adapter = get_peft_model(model, lora_config(settings))
    assert size.adapter == adapter.get_nb_trainable_parameters()[0] > 0
    assert size.stored == torch.float32


def test_memory_is_weights_and_for_training_gradients_and_optimiser_states():
    n, adapter = 1_000_000, 10_000
    size = ModelSize(parameters=n, quantizable=800_000, adapter=adapter, stored=torch.bfloat16)
    assert memory_needed(size, torch.bfloat16) == [("weights in bfloat16", 2 * n)]
    assert memory_needed(size, torch.float32, TrainingSettings()) == [
        ("weights in float32", 4 * n), ("the adapter in float32", 4 * adapter), ("gradients", 4 * adapter),
        ("adamw_torch states", 8 * adapter),
    ]
    full = TrainingSettings(lora=False)
    assert sum(amount for _, amount in memory_needed(size, torch.float32, full)) == 16 * n
    assert memory_needed(size, torch.float32, replace(full, optimizer="paged_adamw_8bit"))[-1] == (
        "paged_adamw_8bit states", 2 * n)
    qlora = memory_needed(size, torch.bfloat16, replace(AUTHORS, merge=True, lora_r=8))
    assert qlora[0] == ("weights in 4 bits and bfloat16", 800_000 // 2 + 200_000 * 2)
    assert qlora[-1] == ("the base in bfloat16 to merge into", 2 * n)


def test_a_job_that_will_not_fit_is_refused_with_both_figures():
    weights = memory_needed(EIGHT_B, torch.float32)
    with pytest.raises(Refused) as refused:
        check_fits(weights, int(20e9), CPU)
    assert str(refused.value) == (
        "This job needs about 32.1 GB of memory (weights in float32 32.1 GB) and there are 20.0 GB of RAM "
        "available on this worker. Use a smaller model or a worker with more memory; or, if you know it "
        "fits, set check_memory=false."
    )
    check_fits(weights, int(33e9), CPU)
    full = memory_needed(EIGHT_B, torch.float32, TrainingSettings(lora=False))
    with pytest.raises(Refused, match=r"about 128\.5 GB of memory .* 80\.0 GB free on this worker's GPU\. "
                                      r"Use LoRA \(lora=true\) instead of full fine-tuning,"):
        check_fits(full, int(80e9), CUDA, full_fine_tune=True)


@pytest.fixture
def huge_model_dir(tmp_path) -> Path:
    """A model of over a trillion parameters stored in bf16, as its config.json says; it has no weights
    (nor tokenizer): anything that tried to load it would fail otherwise than the refusal."""
    config = LlamaConfig(hidden_size=65536, intermediate_size=262144, num_hidden_layers=16,
                         num_attention_heads=64, num_key_value_heads=64, vocab_size=800)
    config.dtype = torch.bfloat16
    config.save_pretrained(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("files", "headroom"), [
    ({"memory.max": "8589934592\n", "memory.current": "2147483648\n"}, 6 * 2**30),  # cgroup v2, 8 GiB
    ({"memory.max": "max\n", "memory.current": "2147483648\n"}, None),  # v2 without a limit
    ({"memory/memory.limit_in_bytes": "4294967296", "memory/memory.usage_in_bytes": "1073741824"},
     3 * 2**30),  # cgroup v1
    ({"memory/memory.limit_in_bytes": str(2**63 - 4096), "memory/memory.usage_in_bytes": "1"}, None),
    ({}, None),  # no cgroup files: a machine of its own
])
def test_a_containers_memory_limit_counts_not_the_hosts(tmp_path, files, headroom):
    """In a container psutil reports the host's free memory; the limit the container runs under is
    what a job can take."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert container_headroom(tmp_path) == headroom
    if headroom is not None:  # the host's free memory changes from one reading to the next: no equality
        assert 0 < available_memory(CPU, tmp_path) <= headroom


def test_the_check_reads_config_json_only_and_notes_the_dtype_before_refusing(huge_model_dir):
    notes: list[str] = []
    with pytest.raises(Refused, match=r"^This job needs about 4\.4 TB of memory"):
        preflight(huge_model_dir, on_note=notes.append)
    assert notes == [
        "The checkpoint is stored in bfloat16; this worker runs it in float32 (the CPU runs float32), so its "
        "1099.62 billion parameters take 4.4 TB instead of 2.2 TB."
    ]
    preflight(huge_model_dir, check_memory=False)  # the operator's override


FAST = {"max_new_tokens": 8, "batch_size": 2, "split": ""}


@pytest.mark.django_db
def test_the_authors_preset_without_qlora_is_refused_on_a_cpu_worker_before_loading(
    checkpoint, equal_problems, admin_client, settings, tmp_path
):
    settings.CHECKPOINT_DIR = tmp_path
    job = jobs.launch(Job.Kind.FINETUNE, checkpoint, equal_problems[:8], "vanilla",
                      {"preset": "authors", "qlora": False, "split": ""})
    runners.run_job(job.pk)
    job.refresh_from_db()
    reason = (
        "optimizer=paged_adamw_8bit needs bitsandbytes on a CUDA GPU, and this worker has no GPU. Set "
        "optimizer=adamw_torch to fine-tune here, or run the job on a GPU worker."
    )
    assert job.status == Job.Status.FAILED and job.error == reason
    assert job.log.splitlines()[-1].endswith(f"Failed: {reason}")
    assert not model_cache.holds(checkpoint.path) and not (tmp_path / f"job-{job.pk}").exists()  # no load
    page = admin_client.get(reverse("admin:traces_job_change", args=[job.pk])).content.decode()
    assert page.count(reason) == 2  # its error and its log


@pytest.mark.django_db
def test_a_model_too_big_for_the_worker_is_refused_in_words_and_the_override_lets_it_try(
    huge_model_dir, equal_problems
):
    huge = Checkpoint.objects.create(name="huge", path=str(huge_model_dir))
    job = jobs.launch(Job.Kind.GENERATE, huge, equal_problems[:2], "vanilla", FAST)
    runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error.startswith("This job needs about 4.4 TB of memory")
    lines = job.log.splitlines()
    assert "this worker runs it in float32" in lines[-2] and lines[-1].endswith(f"Failed: {job.error}")

    anyway = {**FAST, "check_memory": False}
    tried = jobs.launch(Job.Kind.GENERATE, huge, equal_problems[:2], "vanilla", anyway)
    runners.run_job(tried.pk)
    tried.refresh_from_db()
    # It went on to load, and failed there (no tokenizer): the message leads the error, then its traceback.
    reason, _ = tried.error.split("\n\nTraceback (most recent call last):", 1)
    assert tried.status == Job.Status.FAILED and re.match(r"\w+Error: \S", reason)
    assert f"Failed: {reason}" in tried.log
