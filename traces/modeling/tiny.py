"""A tiny random model with a locally trained tokenizer, so tests and benchmarks run offline in
seconds; with the chat template and special tokens of a real model family when asked, so that the
templates the paper's models use are tested on something that runs."""

from __future__ import annotations

import json
from pathlib import Path

import torch

TRACE_TOKENS: tuple[str, ...] = ("<think>", "</think>", "<answer>", "</answer>")

# Chat template of the plain tiny model: role markers are special tokens, each turn ends with EOS, so
# a fine-tuned model learns to stop after its answer. No newlines between turns: the assistant's part
# is exactly its content plus EOS.
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + eos_token }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "data" / "chat_templates"
_COTEMPQA_DIR = Path(__file__).resolve().parents[1] / "data" / "cotempqa"

_LLAMA = {"bos": "<|begin_of_text|>", "eos": "<|eot_id|>", "pad": "<|finetune_right_pad_id|>",
          "specials": ["<|start_header_id|>", "<|end_header_id|>", "<|end_of_text|>", "<|eom_id|>",
                       "<|python_tag|>"],
          # generation_config.json of Llama-3.1-8B-Instruct (Meta's reference defaults too)
          "generation": {"do_sample": True, "temperature": 0.6, "top_p": 0.9}}
_R1_BOS, _R1_EOS = "<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<\uff5cend\u2581of\u2581sentence\uff5c>"
# Special tokens and sampling defaults of each family (see traces/data/chat_templates/PROVENANCE.md).
FAMILIES: dict[str, dict] = {
    "tiny": {"bos": None, "eos": "</s>", "pad": "<pad>", "generation": {},
             "specials": ["<|system|>", "<|user|>", "<|assistant|>"]},
    "llama3_2": _LLAMA,
    "llama3_1": _LLAMA,
    "qwen3": {"bos": None, "eos": "<|im_end|>", "pad": "<|endoftext|>", "specials": ["<|im_start|>"],
              "generation": {"do_sample": True, "temperature": 0.6, "top_p": 0.95, "top_k": 20}},
    "deepseek_r1_distill": {
        "bos": _R1_BOS, "eos": _R1_EOS, "pad": _R1_EOS,
        "specials": ["<\uff5cUser\uff5c>", "<\uff5cAssistant\uff5c>"],
        "generation": {"do_sample": True, "temperature": 0.6, "top_p": 0.95},
    },
}


def chat_template(family: str) -> str:
    """A family's chat template: the tiny one, or a real model's (verbatim, from traces/data)."""
    if family == "tiny":
        return TINY_CHAT_TEMPLATE
    return (TEMPLATES_DIR / f"{family}.jinja").read_text(encoding="utf-8")


def _default_corpus(limit_per_file: int = 80) -> list[str]:
    """Sentences from the bundled CoTempQA files, in the prompt and trace formats of the study."""
    corpus: list[str] = []
    for path in sorted(_COTEMPQA_DIR.glob("*.json")):
        with path.open(encoding="utf-8") as handle:
            for n, line in enumerate(handle):
                if n >= limit_per_file:
                    break
                if not line.strip():
                    continue
                record = json.loads(line)
                facts = list(record.get("facts", []))
                answers = list(record.get("answer", []))
                corpus.append(
                    "Answer the question based on the context:\n"
                    + "\n".join(facts)
                    + f"\nQuestion: {record.get('question', '')} Only return the answer.\n"
                )
                corpus.append(
                    f"<think>The temporal relation between the event in question and the event in context "
                    f"is: {path.stem}.\nI need to use the following facts to answer the question: "
                    f"{facts[:2]!r}</think> <answer>{answers!r}</answer>"
                )
    return corpus


def build_tiny_model(
    output_dir: str | Path,
    corpus: list[str] | None = None,
    seed: int = 0,
    *,
    family: str = "tiny",
    vocab_size: int = 800,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
) -> Path:
    """Save a tiny random Llama-style model and a locally trained tokenizer into ``output_dir``.

    A byte-level BPE tokenizer is trained on ``corpus`` (default: CoTempQA prompts and traces from
    ``traces/data/cotempqa``), with the ``family``'s special tokens and chat template (``FAMILIES``:
    the tiny template, or Llama 3.1 / 3.2's, Qwen3's, DeepSeek-R1-Distill's), the trace tags as single
    tokens, and a randomly initialised ``LlamaForCausalLM`` (seeded) sized by the keyword arguments,
    whose generation config samples as the family's real models do. Returns the directory.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    spec = FAMILIES[family]
    texts = list(corpus) if corpus is not None else _default_corpus()
    if not texts:
        raise ValueError("empty corpus")
    specials = list(dict.fromkeys([spec["pad"], spec["eos"], *([spec["bos"]] if spec["bos"] else []),
                                   *spec["specials"]]))
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token=spec["eos"], pad_token=spec["pad"], bos_token=spec["bos"],
        padding_side="left",
    )
    # Trace tags are ordinary (not special) tokens: decoding with skip_special_tokens keeps them.
    tokenizer.add_tokens(list(TRACE_TOKENS))
    tokenizer.chat_template = chat_template(family)

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=2048,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        # Untied output layer and a wide initialisation: a random model then writes varied tokens
        # (tied, it repeats its input) with logit gaps far above float32 noise, so greedy output
        # is a meaningful check of batching.
        tie_word_embeddings=False,
        initializer_range=0.1,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    for name, value in spec["generation"].items():
        setattr(model.generation_config, name, value)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
