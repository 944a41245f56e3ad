"""Fine-tuning on TRL's SFTTrainer with PEFT, on a tiny random model on the CPU."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from traces.modeling import (
    PRESETS,
    GenerationSettings,
    Refused,
    TrainingCancelled,
    TrainingSettings,
    build_tiny_model,
    fine_tune,
    generate,
    load_model,
    saved_dtype,
)
from traces.modeling.checkpoints import MARKER, is_complete

pytestmark = pytest.mark.slow

COTEMPQA = Path(__file__).resolve().parents[2] / "traces" / "data" / "cotempqa" / "equal.json"
GREEDY = GenerationSettings(max_new_tokens=16, do_sample=False)


def _examples(n: int = 16) -> list[dict]:
    rows = [json.loads(line) for line in COTEMPQA.open(encoding="utf-8") if line.strip()][:n]
    return [{"messages": [{"role": "user", "content": row["question"]},
                          {"role": "assistant", "content": f"<answer>{row['answer'][0]}</answer>"}]}
            for row in rows]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("base"))


FAST = {"max_steps": 12, "learning_rate": 5e-3, "batch_size": 4, "save_steps": 4}


def test_qlora_is_refused_on_the_cpu_with_a_clear_message(base, tmp_path):
    with pytest.raises(Refused) as refused:
        fine_tune(base, _examples(), tmp_path, TrainingSettings(**FAST, qlora=True))
    assert str(refused.value) == (
        "qlora=true needs bitsandbytes on a CUDA GPU, and this worker has no GPU. Set qlora=false to "
        "fine-tune here, or run the job on a GPU worker."
    )
    assert not any(tmp_path.iterdir())  # nothing loaded, nothing written


def test_lora_with_the_authors_parameters_trains_only_the_adapter(base, tmp_path):
    """The authors' recipe without QLoRA (no GPU here): r 16, alpha 32, dropout 0.05 on the attention
    and MLP projections, loss on the whole text, a cosine schedule with warm-up."""
    recipe = {**PRESETS["authors"], "qlora": False, "optimizer": "adamw_torch", "max_steps": 8,
              "save_steps": 4, "gradient_checkpointing": False}
    result = fine_tune(base, _examples(), tmp_path, TrainingSettings(**recipe))
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["lora_dropout"]) == (16, 32, 0.05)
    assert set(config["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                             "down_proj"}
    assert config["base_model_name_or_path"] == str(base)
    weights = load_file(str(tmp_path / "adapter_model.safetensors"))
    assert weights and all("lora_" in name for name in weights)  # the adapter alone, not the model
    assert result.adapter and result.steps == 8 and len(result.losses) == 8


def test_gradient_accumulation_gives_the_same_steps_as_a_larger_batch(base, tmp_path):
    """Two micro-batches of 2 accumulated = one batch of 4: the same losses and the same weights,
    while plain batches of 2 (other examples in each step) are not."""
    two = {"max_steps": 2, "learning_rate": 5e-3, "warmup_ratio": 0.0, "save_steps": 100}
    big = fine_tune(base, _examples(), tmp_path / "big", TrainingSettings(**two, batch_size=4))
    accumulated = fine_tune(base, _examples(), tmp_path / "acc",
                            TrainingSettings(**two, batch_size=2, gradient_accumulation=2))
    assert accumulated.losses == pytest.approx(big.losses, abs=1e-4)
    a = load_file(str(tmp_path / "big" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "acc" / "adapter_model.safetensors"))
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-3
    small = fine_tune(base, _examples(), tmp_path / "small", TrainingSettings(**two, batch_size=2))
    assert abs(small.losses[1] - big.losses[1]) > 1e-2


def test_an_adapter_checkpoint_generates_what_the_merged_model_generates(base, tmp_path):
    settings = TrainingSettings(**FAST)
    fine_tune(base, _examples(), tmp_path / "adapter", settings)
    merged = fine_tune(base, _examples(), tmp_path / "merged", TrainingSettings(**FAST, merge=True))
    assert not merged.adapter and not (tmp_path / "merged" / "adapter_config.json").exists()
    assert saved_dtype(tmp_path / "merged") == saved_dtype(base)  # the base's dtype, not training's
    questions = [ex["messages"][0]["content"] for ex in _examples(4)]
    adapter_model, tokenizer = load_model(tmp_path / "adapter", base)
    merged_model, merged_tokenizer = load_model(tmp_path / "merged")
    from_adapter = [g.text for g in generate(adapter_model, tokenizer, questions, GREEDY)]
    from_merged = [g.text for g in generate(merged_model, merged_tokenizer, questions, GREEDY)]
    assert from_adapter == from_merged
    untrained, base_tokenizer = load_model(base)
    assert from_adapter != [g.text for g in generate(untrained, base_tokenizer, questions, GREEDY)]


def test_a_cancelled_run_saves_a_checkpoint_and_resumes_where_it_stopped(base, tmp_path):
    """Stopping keeps a checkpoint of the step reached; running again goes on from it, and the losses
    are those of an uninterrupted run (same data order, optimiser and schedule). A newer checkpoint
    left half-written (its worker killed while saving it) is set aside, not loaded."""
    settings = TrainingSettings(**FAST)
    whole = fine_tune(base, _examples(), tmp_path / "whole", settings)
    steps: list[int] = []
    with pytest.raises(TrainingCancelled) as cancelled:
        fine_tune(base, _examples(), tmp_path / "cut", settings, on_step=lambda s, loss: steps.append(s),
                  should_stop=lambda: len(steps) >= 5)
    stopped = len(cancelled.value.losses)
    trainer = tmp_path / "cut" / "trainer"
    saved = trainer / f"checkpoint-{stopped}"
    assert 5 <= stopped < 12 and is_complete(saved) and is_complete(trainer / "checkpoint-4")
    partial = trainer / "checkpoint-12"  # the weights written, then the kill: no optimiser, no marker
    shutil.copytree(saved, partial)
    for name in ("optimizer.pt", MARKER):
        (partial / name).unlink()
    notes: list[str] = []
    resumed = fine_tune(base, _examples(), tmp_path / "cut", settings, on_note=notes.append)
    assert resumed.resumed_from == stopped
    assert resumed.losses == pytest.approx(whole.losses, abs=1e-6)
    assert notes == [f"checkpoint-12 was not completely written (its worker stopped while saving it): set "
                     f"aside as incomplete-checkpoint-12; training resumes from checkpoint-{stopped}."]
    assert (trainer / "incomplete-checkpoint-12").is_dir()
    kept = sorted(trainer.glob("checkpoint-*"))
    assert [p.name for p in kept] == ["checkpoint-12", "checkpoint-8"] and all(map(is_complete, kept))


def test_examples_over_the_length_limit_are_counted_and_dropped_or_cut(base, tmp_path):
    examples = _examples(8)
    examples[0] = {"messages": [examples[0]["messages"][0],
                                {"role": "assistant", "content": "<answer>" + "word " * 400 + "</answer>"}]}
    limits = {**FAST, "max_steps": 2, "max_length": 128}
    dropped = fine_tune(base, examples, tmp_path / "drop", TrainingSettings(**limits))
    assert (dropped.overlong, dropped.examples) == (1, 7)
    cut = fine_tune(base, examples, tmp_path / "cut", TrainingSettings(**limits, overlong="truncate"))
    assert (cut.overlong, cut.examples) == (1, 8)
    with pytest.raises(ValueError, match="overlong must be"):
        fine_tune(base, examples, tmp_path / "bad", TrainingSettings(**limits, overlong="ignore"))


def test_full_fine_tuning_saves_a_whole_model_in_the_bases_dtype(base, tmp_path):
    result = fine_tune(base, _examples(), tmp_path, TrainingSettings(**FAST, lora=False))
    assert not result.adapter and (tmp_path / "config.json").is_file()
    model, _ = load_model(tmp_path)
    assert next(model.parameters()).dtype == torch.float32 == saved_dtype(base)
