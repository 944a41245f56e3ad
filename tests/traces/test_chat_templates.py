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


STEP = "The temporal relation between the event in question and the event in context is: equal."
ANSWER = "<answer>['Liberal Federation']</answer>"
PLAIN = "['Liberal Federation']"
QWEN_END = "<|im_end|>\n"
#: (family, enable_thinking, assistant content) -> what training appends to the inference prompt: the
#: text the model writes there, in its template's shape, with exactly one thinking block, closed.
TRAINED_ANSWERS = {
    ("llama3_1", None, TRACE): TRACE + "<|eot_id|>",  # no thinking in the template: the authors' bytes
    ("llama3_2", None, PLAIN): PLAIN + "<|eot_id|>",
    # Qwen3's template writes the thinking block its way (and keeps the authors' space before <answer>,
    # as their own Qwen3 training texts, rendered whole by this template, have it)
    ("qwen3", None, TRACE): f"<think>\n{STEP}\n</think>\n\n {ANSWER}{QWEN_END}",
    ("qwen3", True, TRACE): f"<think>\n{STEP}\n</think>\n\n {ANSWER}{QWEN_END}",
    ("qwen3", True, PLAIN): f"<think>\n\n</think>\n\n{PLAIN}{QWEN_END}",
    # thinking off: the prompt closed an empty block; the trace is written as visible text after it
    ("qwen3", False, TRACE): f"{STEP}\n\n{ANSWER}{QWEN_END}",
    ("qwen3", False, PLAIN): f"{PLAIN}{QWEN_END}",
    # R1 opened <think> in the prompt: the trace continues it and closes it; a plain answer closes it empty
    ("deepseek_r1_distill", None, TRACE): f"{STEP}\n</think>\n\n{ANSWER}{R1_EOS}",
    ("deepseek_r1_distill", None, PLAIN): f"\n</think>\n\n{PLAIN}{R1_EOS}",
}


@pytest.mark.parametrize(("family", "thinking", "content"), list(TRAINED_ANSWERS))
def test_training_text_is_the_inference_prompt_and_what_the_model_writes_there(families, family, thinking,
                                                                              content):
    """Rendered side by side: the training text starts with exactly the prompt generation uses under the
    same options, and what follows has one thinking block, closed (before: Qwen3 with thinking off
    trained a second block after the prompt's empty one, and R1's plain answers an unclosed one)."""
    tokenizer = load_tokenizer(families[family])
    options = TemplateOptions(enable_thinking=thinking)
    prompt, answer = answer_text(tokenizer, [*CHAT, {"role": "assistant", "content": content}], options)
    assert prompt == chat_prompt(tokenizer, CHAT, options)
    assert answer == TRAINED_ANSWERS[(family, thinking, content)]
    text = prompt + answer
    if family in ("qwen3", "deepseek_r1_distill"):
        assert text.count("<think>") == text.count("</think>") == 1
    ids, labels = encode_chat(tokenizer, [*CHAT, {"role": "assistant", "content": content}], options)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert ids[: len(prompt_ids)] == prompt_ids  # exactly what generation feeds the model
    assert labels[: len(prompt_ids)] == [IGNORE_INDEX] * len(prompt_ids)
    assert tokenizer.decode(labels[len(prompt_ids):]) == answer


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
