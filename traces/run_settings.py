"""The parameters of generation and fine-tuning, kept free of torch.

The web process builds and validates jobs from these; only GPU workers import traces.modeling
(and with it torch and transformers).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding parameters. None takes the model's own ``generation_config`` (as the authors ran
    their models: R1-Distill and Qwen3 sample, Llama 3.2 samples at 0.6/0.9); ``max_new_tokens`` is
    large enough for R1-style traces (about 1,100 tokens for the longest of the pilot's)."""

    max_new_tokens: int = 4096
    do_sample: bool | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_strings: tuple[str, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class TrainingSettings:
    """Hyper-parameters of ``fine_tune`` (TRL's SFTTrainer with PEFT). ``max_steps`` > 0 overrides
    ``epochs``; ``batch_size`` is per optimizer micro-step, times ``gradient_accumulation`` per
    step. The defaults are the small CPU preset; ``PRESETS`` holds the authors' recipe."""

    epochs: float = 1.0
    max_steps: int = 20
    learning_rate: float = 1e-3
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.1
    batch_size: int = 2
    gradient_accumulation: int = 1
    gradient_checkpointing: bool = False
    optimizer: str = "adamw_torch"
    weight_decay: float = 0.0
    max_length: int = 4096
    overlong: str = "drop"  # examples over max_length: "drop" them, or "truncate" them; both are counted
    lora: bool = True
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_target_modules: str = "all-linear"  # or names, comma-separated: "q_proj,k_proj,v_proj"
    qlora: bool = False  # 4-bit NF4 base through bitsandbytes: CUDA only
    loss_on: str = "assistant"  # "assistant": the answer's tokens; "all": the whole text
    save_steps: int = 10  # a checkpoint to resume from every this many optimizer steps
    merge: bool = False  # save the adapter merged into the base (in the base's dtype), not alone
    seed: int = 0


PROJECTIONS = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"

PRESETS: dict[str, dict] = {
    # The authors' SFT script (sbhambr1/Trace_Check_QA, scripts/cotempqa_sft_reasoning_facts.py, as its
    # command line runs it): QLoRA (4-bit NF4, double quantisation) r 16, alpha 32, dropout 0.05 on
    # all attention and MLP projections; lr 2e-4, 3 epochs, batch 4 x 4 accumulation, cosine with 10%
    # warm-up, paged 8-bit AdamW, gradient checkpointing, checkpoints every 50 steps, loss on the
    # whole text, sequences cut at 1,024 tokens (here counted and reported).
    "authors": {
        "epochs": 3.0, "max_steps": 0, "learning_rate": 2e-4, "lr_scheduler": "cosine", "warmup_ratio": 0.1,
        "batch_size": 4, "gradient_accumulation": 4, "gradient_checkpointing": True,
        "optimizer": "paged_adamw_8bit", "lora": True, "lora_r": 16, "lora_alpha": 32, "lora_dropout": 0.05,
        "lora_target_modules": PROJECTIONS, "qlora": True, "loss_on": "all", "save_steps": 50,
        "max_length": 1024, "overlong": "truncate",
    },
    # A few seconds on a CPU with a tiny model: tests and the demo.
    "cpu_small": {
        "epochs": 1.0, "max_steps": 20, "learning_rate": 1e-3, "lr_scheduler": "cosine", "warmup_ratio": 0.1,
        "batch_size": 2, "gradient_accumulation": 1, "gradient_checkpointing": False,
        "optimizer": "adamw_torch", "lora": True, "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
        "lora_target_modules": "all-linear", "qlora": False, "loss_on": "assistant", "save_steps": 10,
        "max_length": 4096, "overlong": "drop",
    },
}
