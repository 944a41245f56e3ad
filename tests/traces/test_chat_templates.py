"""The chat templates of the paper's model families (verbatim, traces/data/chat_templates), on tiny
random models with each family's special tokens: prompts for generation and training, and decoding."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from traces.modeling import (
    FIXED_DATE,
    IGNORE_INDEX,
    GenerationSettings,
    TemplateOptions,
    TrainingSettings,
    answer_text,
    build_tiny_model,
    chat_prompt,
    encode_chat,
    fine_tune,
    generate,
    load_model,
    load_tokenizer,
)

R1_ASSISTANT, R1_EOS = "<\uff5cAssistant\uff5c>", "<\uff5cend\u2581of\u2581sentence\uff5c>"
TRACE = (
    "<think>The temporal relation between the event in question and the event in context is: equal.</think> "
    "<answer>['Liberal Federation']</answer>"
)
CHAT = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Which party?"}]


@pytest.fixture(scope="module")
def families(tmp_path_factory) -> dict[str, Path]:
    return {family: build_tiny_model(tmp_path_factory.mktemp(family), family=family)
            for family in ("llama3_1", "llama3_2", "qwen3", "deepseek_r1_distill")}


@pytest.mark.parametrize("family", ["llama3_1", "llama3_2"])
def test_llama_prompts_carry_a_fixed_date_not_todays(families, family):
    """Llama 3.2's template prints today's date (transformers' strftime_now): prompts made on two days
    would differ, and a model trained one day would be tested on other prompts."""
    tokenizer = load_tokenizer(families[family])
    prompt = chat_prompt(tokenizer, CHAT)
    assert f"Today Date: {FIXED_DATE}\n\nAnswer briefly.<|eot_id|>" in prompt
    assert dt.date.today().strftime("%d %b %Y") not in prompt
    assert prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    other_day = chat_prompt(tokenizer, CHAT, TemplateOptions(date_string="01 Jan 2030"))
    assert "Today Date: 01 Jan 2030" in other_day  # the date is a setting, fixed by default


def test_qwen3_opens_or_closes_thinking_as_asked(families):
    tokenizer = load_tokenizer(families["qwen3"])
    thinking = chat_prompt(tokenizer, CHAT)
    assert thinking.startswith("<|im_start|>system\nAnswer briefly.<|im_end|>\n")
    assert thinking.endswith("<|im_start|>assistant\n")
    assert chat_prompt(tokenizer, CHAT, TemplateOptions(enable_thinking=False)).endswith(
        "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )


def test_r1_distill_opens_think_in_the_prompt_and_training_continues_from_it(families):
    """R1-Distill's template opens <think> in the generation prompt and strips the reasoning of an
    assistant turn it renders: rendering a whole example would lose the trace (and the turns are not
    prefixes of each other, which failed before). The answer is appended to the prompt instead."""
    tokenizer = load_tokenizer(families["deepseek_r1_distill"])
    messages = [*CHAT, {"role": "assistant", "content": TRACE}]
    prompt, answer = answer_text(tokenizer, messages)
    assert prompt == chat_prompt(tokenizer, CHAT) and prompt.endswith(f"{R1_ASSISTANT}<think>\n")
    assert answer == TRACE.removeprefix("<think>") + R1_EOS  # the trace kept, opened once
    ids, labels = encode_chat(tokenizer, messages)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert ids[: len(prompt_ids)] == prompt_ids  # exactly what generation feeds the model
    assert labels[: len(prompt_ids)] == [IGNORE_INDEX] * len(prompt_ids)
    assert tokenizer.decode(ids[len(prompt_ids):]).endswith(R1_EOS)


@pytest.mark.parametrize("family", ["llama3_1", "llama3_2", "qwen3", "deepseek_r1_distill"])
def test_every_family_trains_on_the_prompt_generation_uses(families, family):
    tokenizer = load_tokenizer(families[family])
    messages = [*CHAT, {"role": "assistant", "content": TRACE}]
    ids, labels = encode_chat(tokenizer, messages)
    prompt_ids = tokenizer(chat_prompt(tokenizer, CHAT), add_special_tokens=False)["input_ids"]
    assert ids[: len(prompt_ids)] == prompt_ids
    supervised = tokenizer.decode([i for i, lab in zip(ids, labels, strict=True) if lab != IGNORE_INDEX])
    end_of_turn = tokenizer.eos_token + ("\n" if family == "qwen3" else "")  # Qwen's template adds one
    assert "['Liberal Federation']</answer>" in supervised and supervised.endswith(end_of_turn)


def test_generation_follows_the_models_own_config_unless_told_and_says_what_it_used(families):
    model, tokenizer = load_model(families["deepseek_r1_distill"])
    (sampled,) = generate(model, tokenizer, [CHAT], GenerationSettings(max_new_tokens=8))
    assert sampled.settings["do_sample"] is True  # R1-Distill's generation_config samples at 0.6 / 0.95
    assert (sampled.settings["temperature"], sampled.settings["top_p"]) == (0.6, 0.95)
    assert set(sampled.settings["from_model"]) == {"do_sample", "temperature", "top_p", "top_k"}
    (greedy,) = generate(model, tokenizer, [CHAT], GenerationSettings(max_new_tokens=8, do_sample=False))
    assert greedy.settings == {"max_new_tokens": 8, "seed": 0, "stop_strings": [], "from_model": [],
                               "do_sample": False}
    assert sampled.prompt.endswith(f"{R1_ASSISTANT}<think>\n")


def test_generation_stops_at_a_stop_string(families):
    model, tokenizer = load_model(families["qwen3"])
    settings = GenerationSettings(max_new_tokens=40, do_sample=False)
    (free,) = generate(model, tokenizer, [CHAT], settings)
    stop = free.text[3:6]
    assert stop.strip() and len(free.text) > 10
    (stopped,) = generate(model, tokenizer, [CHAT], GenerationSettings(**{**settings.__dict__,
                                                                          "stop_strings": (stop,)}))
    assert stop in stopped.text and len(stopped.text) < len(free.text)
    assert stopped.completion_tokens < free.completion_tokens
    assert stopped.settings["stop_strings"] == [stop]


@pytest.mark.slow
def test_a_model_of_each_family_fine_tunes_on_traces_and_generates(families, tmp_path):
    examples = [{"messages": [*CHAT, {"role": "assistant", "content": TRACE}]}] * 8
    settings = TrainingSettings(max_steps=6, learning_rate=1e-2, batch_size=4, save_steps=100)
    for family in ("llama3_2", "deepseek_r1_distill"):
        result = fine_tune(families[family], examples, tmp_path / family, settings)
        assert result.examples == 8 and result.losses[-1] < result.losses[0]
        model, tokenizer = load_model(tmp_path / family, families[family])
        (output,) = generate(model, tokenizer, [CHAT], GenerationSettings(max_new_tokens=12, do_sample=False))
        assert output.completion_tokens > 0
