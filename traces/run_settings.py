"""The parameters of generation and fine-tuning, kept free of torch.

The web process builds and validates jobs from these; only GPU workers import traces.modeling
(and with it torch and transformers).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding parameters; the defaults are greedy decoding."""

    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0


@dataclass(frozen=True)
class TrainingSettings:
    """Hyper-parameters of ``fine_tune``; ``steps`` counts optimizer steps."""

    steps: int = 100
    learning_rate: float = 5e-5
    batch_size: int = 4
    max_length: int = 1024
    lora: bool = False
    lora_r: int = 8
    seed: int = 0
