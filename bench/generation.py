"""Generation benchmark: the same CoTempQA prompts generated one at a time and in batches.

What it measures
    ``traces.modeling.generate`` on N CoTempQA prompts in the paper's format ("Answer the question
    based on the context:\\n<facts>\\nQuestion: <question> Only return the answer.", built by
    ``traces.sft.build_prompt``), greedy, the same ``max_new_tokens``, once per batch size (default
    1, 4, 8 and 16). The prompts are batched as a generation job batches them: grouped by length
    with ``traces.modeling.batches_by_length``, shortest first, so that a batch pads little
    (``--order given`` cuts the prompts in their given order into consecutive batches instead).
    For each batch size it reports the wall time (grouping included), the completion tokens per
    second and the speed-up over batch size 1. Only real completion tokens count (up to and
    including EOS): a batch runs until its longest member finishes, and the padding the others get
    meanwhile is reported separately (``padded``), not counted as throughput. Prompt tokens are
    processed too (prefill) and are in the wall time, but not in tokens/s.

    It then checks that every batch size produced exactly the outputs of batch size 1 for every
    prompt (text and token counts) and reports how many prompts differ. In float32 (CPU) they
    should not; in bf16 (CUDA) near-ties can flip, so a few differences there are a numerics
    matter, not a bug.

Side by side (``--peers``, on by default)
    At the largest batch size, the same prompts and settings through what a user would pick
    instead, alternating with ours over ``--rounds`` rounds in the same run: transformers' own
    batched ``generate()`` (its default, concatenating cache; the same batches), and
    ``transformers serve --continuous-batching`` (an OpenAI-compatible server, started here on
    127.0.0.1, the templated prompts sent to ``/v1/completions`` by as many concurrent clients as
    the batch size). It prints tokens/s of each and their ratios to ours, and how many outputs
    differ from ours.

Model
    ``--model PATH`` takes any local ``save_pretrained`` directory. Without it, a random
    Llama-style model (``build_tiny_model``: hidden 256, 4 layers, 4 heads, byte-level BPE
    tokenizer with 4,000 tokens trained on CoTempQA) is built in a temporary folder: small enough
    for a 2-core CPU, big enough that batching matters. The vocabulary is bigger than the tests'
    (800) so that a prompt takes about as many tokens as with a real tokenizer (~230 for ~170
    words, not ~370): prefill cost, which batching cannot remove, stays realistic.
    A random model rarely emits EOS, so almost every completion runs to
    ``max_new_tokens``; ``--train-steps K`` first fine-tunes it K steps on the prompts' answers, so
    completions end at EOS after different lengths, as with a real model.

Device: ``pick_device()`` (CUDA with bf16 when available, else CPU with float32).

Run (from the repository root)::

    .venv/bin/python bench/generation.py
    .venv/bin/python bench/generation.py --prompts 64 --max-new-tokens 32 --batch-sizes 1,4,8,16
    .venv/bin/python bench/generation.py --order given   # consecutive batches, not grouped by length
    .venv/bin/python bench/generation.py --model var/models/some-checkpoint

Exit status 0 when all batch sizes gave identical outputs, 1 when some differ.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download anything
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from tests.traces.chat_servers import ServedModel  # noqa: E402
from traces.loaders import load_cotempqa  # noqa: E402
from traces.modeling import (  # noqa: E402
    Generation,
    GenerationSettings,
    TrainingSettings,
    batches_by_length,
    build_tiny_model,
    chat_prompt,
    fine_tune,
    generate,
    load_model,
    pick_device,
)
from traces.sft import build_prompt  # noqa: E402

DATA = ROOT / "traces" / "data" / "cotempqa"


@dataclass
class Run:
    batch_size: int
    outputs: list[Generation]  # in the order of the prompts, whatever the batches were
    batches: list[list[int]]  # indices of the prompts generated together
    wall_s: float

    @property
    def completion_tokens(self) -> int:
        return sum(g.completion_tokens for g in self.outputs)

    @property
    def prompt_tokens(self) -> int:
        return sum(g.prompt_tokens for g in self.outputs)

    @property
    def padded_tokens(self) -> int:
        """Decoding slots spent on rows that had already finished (batch ran on for a longer one)."""
        total = 0
        for indices in self.batches:
            batch = [self.outputs[i] for i in indices]
            longest = max(g.completion_tokens for g in batch)
            total += sum(longest - g.completion_tokens for g in batch)
        return total

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.wall_s


def cotempqa_prompts(n: int) -> list[tuple[str, list[str]]]:
    """(prompt, gold answers) of ``n`` problems, taken in turn from the equal/overlap/mix files."""
    per_file = [load_cotempqa(DATA / f"{name}.json", name) for name in ("equal", "overlap", "mix")]
    out: list[tuple[str, list[str]]] = []
    for i in range(max(len(p) for p in per_file)):
        for problems in per_file:
            if i < len(problems) and len(out) < n:
                out.append((build_prompt(problems[i].question, problems[i].facts), problems[i].gold_answers))
    if len(out) < n:
        raise SystemExit(f"only {len(out)} CoTempQA problems available, asked for {n}")
    return out


def run_batches(
    model, tokenizer, prompts: list[str], batch_size: int, settings: GenerationSettings, by_length: bool
) -> Run:
    start = time.perf_counter()
    if by_length:
        batches = batches_by_length(tokenizer, prompts, batch_size)
    else:
        indices = list(range(len(prompts)))
        batches = [indices[i : i + batch_size] for i in range(0, len(prompts), batch_size)]
    outputs: list[Generation | None] = [None] * len(prompts)
    for indices in batches:
        generated = generate(model, tokenizer, [prompts[i] for i in indices], settings)
        for i, g in zip(indices, generated, strict=True):
            outputs[i] = g
    return Run(batch_size, outputs, batches, time.perf_counter() - start)


def run_transformers_generate(model, tokenizer, prompts: list[str], batches: list[list[int]],
                              settings: GenerationSettings) -> Run:
    """transformers' own batched generate() on the same batches: its default cache, the same chat
    template, left padding, greedy, and the same count of completion tokens (up to EOS)."""
    start = time.perf_counter()
    outputs: list[Generation | None] = [None] * len(prompts)
    eos = {int(tokenizer.eos_token_id)}
    for indices in batches:
        texts = [chat_prompt(tokenizer, prompts[i]) for i in indices]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.inference_mode():
            out = model.generate(**batch, max_new_tokens=settings.max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=sorted(eos))
        for i, ids in zip(indices, out[:, batch["input_ids"].shape[1]:].tolist(), strict=True):
            n = next((k + 1 for k, token in enumerate(ids) if token in eos), len(ids))
            while n and ids[n - 1] == tokenizer.pad_token_id and ids[n - 1] not in eos:
                n -= 1
            outputs[i] = Generation(texts[0], tokenizer.decode(ids[:n], skip_special_tokens=True), 0, n, 0.0)
    return Run(len(batches[0]), outputs, batches, time.perf_counter() - start)


class Server(ServedModel):
    """``transformers serve`` on a free port of 127.0.0.1 (CUDA in bf16 when present, else the CPU in
    float32), logging to ``log_path``, with a client for its completions endpoint."""

    def __init__(self, path: Path, continuous: bool, log_path: Path) -> None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = "bfloat16" if device == "cuda" else "float32"
        super().__init__(path, log_path, device, dtype, continuous, start_timeout_s=180)

    def complete(self, text: str, max_tokens: int) -> tuple[str, int]:
        body = json.dumps({"model": str(self.model_dir), "prompt": text, "max_tokens": max_tokens}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/v1/completions", body,
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310 - http on 127.0.0.1
            answer = json.load(response)
        return answer["choices"][0]["text"], int(answer["usage"]["completion_tokens"])


def run_server(
    server: Server, tokenizer, prompts: list[str], clients: int, settings: GenerationSettings
) -> Run:
    """Every prompt through the server by ``clients`` concurrent clients."""
    texts = [chat_prompt(tokenizer, p) for p in prompts]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        answers = list(pool.map(lambda t: server.complete(t, settings.max_new_tokens), texts))
    outputs = [Generation(t, text, 0, n, 0.0) for t, (text, n) in zip(texts, answers, strict=True)]
    return Run(clients, outputs, [], time.perf_counter() - start)


def differences(reference: Run, other: Run) -> list[int]:
    return [
        i
        for i, (a, b) in enumerate(zip(reference.outputs, other.outputs, strict=True))
        if (a.text, a.completion_tokens) != (b.text, b.completion_tokens)
    ]


def cpu_times() -> tuple[float, float] | None:
    """(CPU seconds of this process, busy CPU seconds of the whole machine), Linux only."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    values = [int(v) for v in fields]
    busy = sum(values) - values[3] - values[4]  # all but idle and iowait
    own = os.times()
    return own.user + own.system, busy / ticks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="local save_pretrained directory (default: build one)")
    parser.add_argument("--prompts", type=int, default=64, help="number of CoTempQA prompts (default 64)")
    parser.add_argument("--max-new-tokens", type=int, default=128, help="(default 128, a short trace)")
    parser.add_argument("--batch-sizes", default="1,4,8,16", help="comma-separated, must include 1")
    parser.add_argument(
        "--order",
        choices=("length", "given"),
        default="length",
        help="batch prompts of similar length together, as jobs do (default), or in the given order",
    )
    parser.add_argument("--hidden", type=int, default=256, help="built model: hidden size")
    parser.add_argument("--layers", type=int, default=4, help="built model: layers")
    parser.add_argument("--heads", type=int, default=4, help="built model: attention heads")
    parser.add_argument("--vocab", type=int, default=4000, help="built model: tokenizer vocabulary size")
    parser.add_argument("--train-steps", type=int, default=0, help="fine-tune the built model first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-peers", dest="peers", action="store_false",
                        help="skip transformers' generate() and transformers serve")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternating rounds of the side-by-side (default 2)")
    args = parser.parse_args(argv)
    batch_sizes = sorted({int(b) for b in args.batch_sizes.split(",")})
    if 1 not in batch_sizes or min(batch_sizes) < 1:
        parser.error("--batch-sizes must include 1 and be positive")
    hf_logging.disable_progress_bar()

    problems = cotempqa_prompts(args.prompts)
    prompts = [p for p, _ in problems]
    with tempfile.TemporaryDirectory(prefix="bench-generation-") as tmp:
        path = args.model
        if path is None:
            start = time.perf_counter()
            path = build_tiny_model(
                Path(tmp) / "model",
                seed=args.seed,
                hidden_size=args.hidden,
                num_layers=args.layers,
                num_heads=args.heads,
                vocab_size=args.vocab,
            )
            print(
                f"built random model ({args.hidden} hidden, {args.layers} layers) in "
                f"{time.perf_counter() - start:.1f} s"
            )
            if args.train_steps:
                examples = [
                    {"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": f"{a}"}]}
                    for p, a in problems
                ]
                start = time.perf_counter()
                settings = TrainingSettings(
                    max_steps=args.train_steps, learning_rate=2e-3, batch_size=4, seed=args.seed, merge=True,
                    save_steps=10_000,
                )
                losses = fine_tune(path, examples, Path(tmp) / "tuned", settings).losses
                path = Path(tmp) / "tuned"
                print(
                    f"fine-tuned {args.train_steps} steps in {time.perf_counter() - start:.1f} s, "
                    f"loss {losses[0]:.2f} -> {losses[-1]:.2f}"
                )
        model, tokenizer = load_model(path)
        device, dtype = pick_device()
        n_params = sum(p.numel() for p in model.parameters())
        threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
        name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
        print(
            f"device {device} ({name}{threads}), {str(dtype).removeprefix('torch.')}, "
            f"{n_params / 1e6:.1f} M parameters, vocabulary {len(tokenizer)}"
        )

        settings = GenerationSettings(max_new_tokens=args.max_new_tokens, seed=args.seed, do_sample=False)
        generate(model, tokenizer, prompts[: max(batch_sizes)], settings)  # warm-up, not timed
        cpu_before = cpu_times()
        by_length = args.order == "length"
        runs = [run_batches(model, tokenizer, prompts, b, settings, by_length) for b in batch_sizes]
        cpu_after = cpu_times()
        peers = (compare_peers(path, model, tokenizer, prompts, runs[-1], settings, args, Path(tmp))
                 if args.peers else [])

    base = runs[0]
    print(
        f"\n{len(prompts)} prompts ({base.prompt_tokens / len(prompts):.0f} prompt tokens on average), "
        f"greedy, max_new_tokens {args.max_new_tokens}, "
        f"{'batched by length' if by_length else 'batched in the given order'}"
    )
    header = ("batch", "wall s", "compl. tok", "padded", "tok/s", "speed-up", "differ")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (5, 8, 10, 7, 8, 8, 6), strict=True)))
    n_differ = 0
    for run in runs:
        diff = differences(base, run)
        n_differ += len(diff)
        print(
            f"{run.batch_size:>5} {run.wall_s:>8.2f} {run.completion_tokens:>10} {run.padded_tokens:>7} "
            f"{run.tokens_per_s:>8.1f} {run.tokens_per_s / base.tokens_per_s:>7.1f}x {len(diff):>6}"
        )
        for i in diff[:3]:
            print(f"      prompt {i}: batch 1 {base.outputs[i].text!r} != {run.outputs[i].text!r}")
    largest = runs[-1]
    print(
        f"\nbatch {largest.batch_size} vs batch 1: {largest.tokens_per_s / base.tokens_per_s:.1f}x "
        f"the tokens per second; outputs {'identical' if n_differ == 0 else f'differ in {n_differ} cases'}"
    )
    if cpu_before and cpu_after:
        wall = sum(r.wall_s for r in runs)
        ours = (cpu_after[0] - cpu_before[0]) / wall
        others = max(0.0, (cpu_after[1] - cpu_before[1]) / wall - ours)
        print(
            f"CPU during the timed runs: this process {ours:.2f} cores, other processes {others:.2f} cores "
            f"of {os.cpu_count()} (others > ~0.1 means the figures are disturbed)"
        )
    if peers:
        print(f"\nside by side at batch {runs[-1].batch_size}, {args.rounds} alternating rounds "
              "(median tokens/s; outputs compared with ours):")
        for name, tokens_per_s, ratio, differ in peers:
            print(f"  {name:<42} {tokens_per_s:>9.1f} tok/s  {ratio:>5.2f}x ours  {differ:>3} outputs differ")
    return 0 if n_differ == 0 else 1


def compare_peers(path: Path, model, tokenizer, prompts: list[str], ours: Run, settings: GenerationSettings,
                  args, workdir: Path) -> list[tuple[str, float, float, int]]:
    """Ours, transformers' generate() and transformers serve, alternating, at the largest batch."""
    server = Server(path, continuous=True, log_path=workdir / "transformers-serve.log")
    try:
        run_server(server, tokenizer, prompts[: ours.batch_size], ours.batch_size, settings)  # warm-up
        timed: dict[str, list[Run]] = {"ours": [], "generate": [], "serve": []}
        for _ in range(args.rounds):
            timed["ours"].append(run_batches(model, tokenizer, prompts, ours.batch_size, settings,
                                             args.order == "length"))
            timed["generate"].append(
                run_transformers_generate(model, tokenizer, prompts, ours.batches, settings)
            )
            timed["serve"].append(run_server(server, tokenizer, prompts, ours.batch_size, settings))
    finally:
        server.stop()

    def median(name: str) -> float:
        return statistics.median(r.tokens_per_s for r in timed[name])

    reference = median("ours")
    return [
        ("ours (traces.modeling.generate)", reference, 1.0, 0),
        ("transformers generate(), default cache", median("generate"), median("generate") / reference,
         len(differences(ours, timed["generate"][-1]))),
        ("transformers serve --continuous-batching", median("serve"), median("serve") / reference,
         len(differences(ours, timed["serve"][-1]))),
    ]


if __name__ == "__main__":
    raise SystemExit(main())
