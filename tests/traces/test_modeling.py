"""Tests for model loading, batched generation and fine-tuning (traces/modeling/).

Everything runs on a tiny random model built locally (``build_tiny_model``), on CPU in float32,
with the network blocked: nothing is downloaded.
"""

from __future__ import annotations

import copy
import json
import shutil
import socket
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer
from transformers.cache_utils import DynamicLayer

from traces.modeling import (
    IGNORE_INDEX,
    TRACE_TOKENS,
    Generation,
    GenerationSettings,
    TrainingSettings,
    batches_by_length,
    build_tiny_model,
    chat_prompt,
    encode_chat,
    fine_tune,
    generate,
    load_model,
    pick_device,
)
from traces.modeling import generation as generation_module

COTEMPQA = Path(__file__).resolve().parents[2] / "traces" / "data" / "cotempqa" / "equal.json"

# Prompts of very different lengths, so batching pads most of them.
PROMPTS = [
    "Hi",
    "Who led the party?",
    "Answer the question based on the context:\nEmma Carlsson is a member of the Liberals in March 11, 2019."
    "\nQuestion: Which party did Emma Carlsson belong to? Only return the answer.\n",
    "While Thomas Wenski was holding the position of auxiliary bishop, which position did he hold?",
]


def _qa_rows(n: int) -> list[dict]:
    with COTEMPQA.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return rows[:n]


def _examples(n: int = 8) -> list[dict]:
    """Chat examples: a CoTempQA question, answered with the first gold answer in answer tags."""
    return [
        {
            "messages": [
                {"role": "user", "content": row["question"]},
                {"role": "assistant", "content": f"<answer>{row['answer'][0]}</answer>"},
            ]
        }
        for row in _qa_rows(n)
    ]


class _NoNetwork(RuntimeError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    """Offline mode plus a hard guarantee: any socket connection fails."""

    def refuse(*args, **kwargs):
        raise _NoNetwork(f"network access attempted: {args!r}")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny(tiny_path):
    return load_model(tiny_path)


@pytest.fixture(scope="session")
def tuned(tiny_path, tmp_path_factory):
    """The tiny model fine-tuned to answer 8 CoTempQA questions; its losses and on_step calls."""
    out = tmp_path_factory.mktemp("tuned")
    calls: list[tuple[int, float]] = []
    settings = TrainingSettings(max_steps=30, learning_rate=3e-3, batch_size=4, max_length=256, seed=0,
                                lora=False, save_steps=100, warmup_ratio=0.0, lr_scheduler="constant")
    result = fine_tune(tiny_path, _examples(8), out, settings, on_step=lambda s, v: calls.append((s, v)))
    return out, result.losses, calls


# --- device and loading --------------------------------------------------------------------------


def test_pick_device_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def touched(*args, **kwargs):
        raise AssertionError("CUDA touched")

    monkeypatch.setattr(torch.cuda, "device_count", touched)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", touched)
    assert pick_device() == (torch.device("cpu"), torch.float32)


def test_pick_device_cuda_bf16_and_fp16_on_older_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert pick_device() == (torch.device("cuda"), torch.bfloat16)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)  # e.g. a V100 or a T4
    assert pick_device() == (torch.device("cuda"), torch.float16)


def test_build_tiny_model_is_fast_and_complete(tmp_path):
    start = time.perf_counter()
    out = build_tiny_model(tmp_path / "m", seed=1)
    assert time.perf_counter() - start < 5
    assert out == tmp_path / "m"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (out / name).is_file(), name
    tokenizer = AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert tokenizer.eos_token == "</s>"
    assert tokenizer.pad_token == "<pad>"
    assert tokenizer.chat_template
    assert 500 <= len(tokenizer) <= 1000
    for tag in TRACE_TOKENS:  # one token each, kept when special tokens are skipped
        assert len(tokenizer(tag, add_special_tokens=False)["input_ids"]) == 1
    text = "<think>relation: equal.</think> <answer>['Liberals']</answer>"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == text


def test_build_tiny_model_is_seeded(tmp_path):
    a = build_tiny_model(tmp_path / "a", corpus=["one two three four"] * 20, seed=3)
    b = build_tiny_model(tmp_path / "b", corpus=["one two three four"] * 20, seed=3)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert (a / "tokenizer.json").read_text() == (b / "tokenizer.json").read_text()


def test_load_model_by_path_offline(tiny_path, no_network):
    model, tokenizer = load_model(str(tiny_path))
    assert tokenizer.padding_side == "left"
    assert tokenizer.pad_token == "<pad>"
    assert not model.training
    assert model.device.type == "cpu"
    assert next(model.parameters()).dtype == torch.float32


def test_load_model_never_looks_beyond_local_dirs(tmp_path, no_network):
    with pytest.raises(FileNotFoundError):
        load_model("meta-llama/Llama-3.2-1B")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing")


def test_load_model_uses_eos_as_pad_when_none(tiny_path, tmp_path, no_network):
    copy_dir = tmp_path / "nopad"
    shutil.copytree(tiny_path, copy_dir)
    tokenizer = AutoTokenizer.from_pretrained(copy_dir, local_files_only=True)
    tokenizer.pad_token = None
    tokenizer.save_pretrained(copy_dir)
    _, loaded = load_model(copy_dir)
    assert loaded.pad_token == loaded.eos_token == "</s>"


# --- prompts -------------------------------------------------------------------------------------


def test_chat_prompt_uses_template(tiny):
    _, tokenizer = tiny
    assert chat_prompt(tokenizer, "Who?") == "<|user|>Who?</s><|assistant|>"


def test_chat_prompt_plain_without_template(tiny):
    _, tokenizer = tiny
    bare = copy.deepcopy(tokenizer)
    bare.chat_template = None
    assert chat_prompt(bare, "Who?") == "Who?"


def test_chat_prompt_takes_the_turns_before_the_answer(tiny):
    _, tokenizer = tiny
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Who?"}]
    assert chat_prompt(tokenizer, turns) == "<|system|>Be brief.</s><|user|>Who?</s><|assistant|>"
    assert chat_prompt(tokenizer, turns[1:]) == chat_prompt(tokenizer, "Who?")


# --- generation ----------------------------------------------------------------------------------


def test_generate_one_generation_per_prompt_with_counts(tiny):
    model, tokenizer = tiny
    settings = GenerationSettings(max_new_tokens=12)
    out = generate(model, tokenizer, PROMPTS, settings)
    assert len(out) == len(PROMPTS)
    assert all(isinstance(g, Generation) for g in out)
    assert [g.prompt for g in out] == [chat_prompt(tokenizer, p) for p in PROMPTS]  # as the model saw it
    for g in out:
        expected = len(tokenizer(g.prompt, add_special_tokens=False)["input_ids"])
        assert g.prompt_tokens == expected  # padding not counted
        assert 1 <= g.completion_tokens <= settings.max_new_tokens
    assert len({g.latency_s for g in out}) == 1  # one batch, one wall time
    assert out[0].latency_s > 0
    assert generate(model, tokenizer, [], settings) == []


def test_generate_counts_completion_up_to_eos(tuned):
    """The tuned model stops after its answer: text and EOS add up to completion_tokens."""
    model, tokenizer = load_model(tuned[0])
    rows = _qa_rows(2)
    out = generate(model, tokenizer, [r["question"] for r in rows], GenerationSettings(max_new_tokens=40))
    for row, g in zip(rows, out, strict=True):
        assert g.text == f"<answer>{row['answer'][0]}</answer>"
        assert g.completion_tokens == len(tokenizer(g.text, add_special_tokens=False)["input_ids"]) + 1
        assert "</s>" not in g.text


@pytest.mark.parametrize("which", ["random", "tuned"])
def test_greedy_batch_equals_one_at_a_time(which, tiny, tuned):
    if which == "random":
        model, tokenizer = tiny
        prompts = PROMPTS
    else:  # completions of different lengths: rows that stop early are padded after EOS
        model, tokenizer = load_model(tuned[0])
        prompts = [PROMPTS[0], *(r["question"] for r in _qa_rows(3)), PROMPTS[2]]
    settings = GenerationSettings(max_new_tokens=24)
    batched = generate(model, tokenizer, prompts, settings)
    for prompt, together in zip(prompts, batched, strict=True):
        (alone,) = generate(model, tokenizer, [prompt], settings)
        assert (alone.text, alone.prompt_tokens, alone.completion_tokens) == (
            together.text,
            together.prompt_tokens,
            together.completion_tokens,
        )
    assert any(g.text for g in batched)


def _prompt_tokens(tokenizer, prompt: str) -> int:
    return len(tokenizer(chat_prompt(tokenizer, prompt), add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize("which", ["random", "tuned"])
def test_generate_writes_the_cache_in_place_with_the_output_of_the_default_cache(
    which, tiny, tuned, monkeypatch
):
    model, tokenizer = tiny if which == "random" else load_model(tuned[0])
    prompts = PROMPTS if which == "random" else [PROMPTS[0], *(r["question"] for r in _qa_rows(3))]
    settings = GenerationSettings(max_new_tokens=24)
    caches = []
    real = generation_module._preallocated_cache

    def spy(model, capacity):
        caches.append(real(model, capacity))
        return caches[-1]

    monkeypatch.setattr(generation_module, "_preallocated_cache", spy)
    ours = generate(model, tokenizer, prompts, settings)
    (cache,) = caches
    width = max(_prompt_tokens(tokenizer, p) for p in prompts)
    for layer in cache.layers:
        assert isinstance(layer, generation_module._PreallocatedLayer)
        assert layer._key_buffer.shape[2] == width + settings.max_new_tokens  # allocated once
        assert layer.keys.data_ptr() == layer._key_buffer.data_ptr()  # a view, never copied
    monkeypatch.setattr(generation_module, "_preallocated_cache", lambda model, capacity: None)
    default = generate(model, tokenizer, prompts, settings)  # transformers' concatenating cache
    assert [(g.text, g.completion_tokens) for g in ours] == [(g.text, g.completion_tokens) for g in default]


def test_preallocated_layer_returns_what_a_dynamic_layer_returns():
    """Growing past its capacity, cropped or with rows selected, it keeps the same keys and values."""
    torch.manual_seed(0)
    ours, reference = generation_module._PreallocatedLayer(capacity=3), DynamicLayer()

    def step(tokens: int, batch: int = 2) -> None:
        keys, values = torch.randn(batch, 2, tokens, 4), torch.randn(batch, 2, tokens, 4)
        got, expected = ours.update(keys, values), reference.update(keys, values)
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])
        assert ours.get_seq_length() == reference.get_seq_length()

    step(2)
    step(1)
    full = ours._key_buffer
    step(1)  # past the capacity: a bigger buffer
    assert ours._key_buffer is not full and ours._key_buffer.shape[2] >= 4
    ours.crop(-2)
    reference.crop(-2)
    step(1)
    ours.batch_select_indices(torch.tensor([1]))
    reference.batch_select_indices(torch.tensor([1]))
    step(2, batch=1)


def test_models_asking_for_another_cache_keep_it(tiny, monkeypatch):
    model, tokenizer = tiny
    assert generation_module._preallocated_cache(model, 10) is not None
    monkeypatch.setattr(model.generation_config, "cache_implementation", "static")
    assert generation_module._preallocated_cache(model, 10) is None
    settings = GenerationSettings(max_new_tokens=8)
    static = [g.text for g in generate(model, tokenizer, PROMPTS, settings)]
    monkeypatch.undo()
    assert static == [g.text for g in generate(model, tokenizer, PROMPTS, settings)]


def test_batches_by_length_groups_prompts_of_similar_length(tiny):
    _, tokenizer = tiny
    prompts = [PROMPTS[2], PROMPTS[0], PROMPTS[3], PROMPTS[1], "Hi"]
    batches = batches_by_length(tokenizer, prompts, 2)
    assert [len(b) for b in batches] == [2, 2, 1]
    assert sorted(i for b in batches for i in b) == list(range(len(prompts)))
    lengths = [_prompt_tokens(tokenizer, p) for p in prompts]
    in_order = [lengths[i] for b in batches for i in b]
    assert in_order == sorted(in_order)
    assert batches[0] == [1, 4]  # the two "Hi" prompts, equally long: given order kept
    assert batches_by_length(tokenizer, [], 4) == []
    with pytest.raises(ValueError, match="batch_size"):
        batches_by_length(tokenizer, prompts, 0)


def test_sampling_is_reproducible_with_seed(tiny):
    model, tokenizer = tiny
    settings = GenerationSettings(max_new_tokens=24, do_sample=True, temperature=1.0, top_p=0.95, seed=7)
    first = [g.text for g in generate(model, tokenizer, PROMPTS, settings)]
    again = [g.text for g in generate(model, tokenizer, PROMPTS, settings)]
    other = [
        g.text
        for g in generate(
            model,
            tokenizer,
            PROMPTS,
            GenerationSettings(
                **{
                    **settings.__dict__,
                    "seed": 8,
                }
            ),
        )
    ]
    greedy_settings = GenerationSettings(max_new_tokens=24, do_sample=False)
    greedy = [g.text for g in generate(model, tokenizer, PROMPTS, greedy_settings)]
    assert first == again
    assert first != other
    assert first != greedy


# --- label masking -------------------------------------------------------------------------------


def test_encode_chat_supervises_only_the_assistant(tiny):
    _, tokenizer = tiny
    messages = [
        {"role": "user", "content": "Who led the party in 2019?"},
        {"role": "assistant", "content": "<answer>Liberals</answer>"},
    ]
    ids, labels = encode_chat(tokenizer, messages)
    assert len(ids) == len(labels)
    prompt_len = len(
        tokenizer(chat_prompt(tokenizer, messages[0]["content"]), add_special_tokens=False)["input_ids"]
    )
    assert labels[:prompt_len] == [IGNORE_INDEX] * prompt_len  # user turn and role markers masked
    assert labels[prompt_len:] == ids[prompt_len:]
    assert tokenizer.decode(ids[prompt_len:]) == "<answer>Liberals</answer></s>"  # EOS is learned
    assert (
        ids[:prompt_len]
        == tokenizer(chat_prompt(tokenizer, messages[0]["content"]), add_special_tokens=False)["input_ids"]
    )


def test_encode_chat_supervises_the_last_answer_and_optionally_everything(tiny):
    """Earlier turns are the prompt, as the template renders history; the loss is on the last answer,
    or on the whole text (loss_on="all", as the authors' run)."""
    _, tokenizer = tiny
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "First?"},
        {"role": "assistant", "content": "One"},
        {"role": "user", "content": "Second?"},
        {"role": "assistant", "content": "Two"},
    ]
    ids, labels = encode_chat(tokenizer, messages)
    supervised = tokenizer.decode([i for i, lab in zip(ids, labels, strict=True) if lab != IGNORE_INDEX])
    masked = tokenizer.decode([i for i, lab in zip(ids, labels, strict=True) if lab == IGNORE_INDEX])
    assert supervised == "Two</s>"
    assert masked == (
        "<|system|>Be brief.</s><|user|>First?</s><|assistant|>One</s><|user|>Second?</s><|assistant|>"
    )
    all_ids, all_labels = encode_chat(tokenizer, messages, loss_on="all")
    assert all_ids == ids and all_labels == ids


def test_encode_chat_rejects_examples_without_an_answer(tiny):
    _, tokenizer = tiny
    with pytest.raises(ValueError, match="assistant"):
        encode_chat(tokenizer, [{"role": "user", "content": "Hi"}])
    with pytest.raises(ValueError, match="loss_on"):
        encode_chat(tokenizer, [{"role": "assistant", "content": "Hi"}], loss_on="prompt")


# --- fine-tuning ---------------------------------------------------------------------------------


def test_fine_tune_lowers_loss_and_saves_a_loadable_model(tuned, no_network):
    out, losses, calls = tuned
    assert len(losses) == 30
    assert [s for s, _ in calls] == list(range(1, 31))  # on_step after every optimizer step
    assert [v for _, v in calls] == losses
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.5 * first, (first, last)
    model, tokenizer = load_model(out)
    (g,) = generate(model, tokenizer, [_qa_rows(1)[0]["question"]], GenerationSettings(max_new_tokens=20))
    assert g.text == f"<answer>{_qa_rows(1)[0]['answer'][0]}</answer>"


def test_fine_tune_rejects_bad_examples(tiny_path, tmp_path):
    with pytest.raises(ValueError):
        fine_tune(
            tiny_path, [{"messages": [{"role": "user", "content": "Hi"}]}], tmp_path, TrainingSettings()
        )
    with pytest.raises(ValueError):
        fine_tune(tiny_path, [], tmp_path, TrainingSettings())
