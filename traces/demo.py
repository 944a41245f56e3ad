"""Data for trying the model side in the demo: CoTempQA and bAbI problems with the paper authors'
split, their fine-tuned model's published outputs (so Table 1 has rows), the pilot's reference
traces, and a tiny random model registered as a checkpoint, so a job can be launched without any
download. Idempotent, like the study's demo seed."""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .authors_data import import_authors_data, import_published_outputs
from .importing import PILOT_FILE, PILOT_SOURCE, import_reference_traces
from .models import Checkpoint

DEMO_CHECKPOINT = "tiny-random-demo"


@dataclass(frozen=True)
class TracesDemo:
    problems_created: int
    evaluations_created: int
    reference_traces_created: int
    checkpoint: Checkpoint


def seed_traces_demo() -> TracesDemo:
    problems = import_authors_data().problems_created
    evaluations = import_published_outputs()
    references = import_reference_traces(PILOT_FILE, PILOT_SOURCE).created
    checkpoint = Checkpoint.objects.filter(name=DEMO_CHECKPOINT).first()
    if checkpoint is None or not (Path(checkpoint.path) / "config.json").is_file():
        from .modeling import build_tiny_model  # torch is imported only when a model is built

        path = build_tiny_model(Path(settings.VAR_DIR) / "models" / DEMO_CHECKPOINT)
        checkpoint, _ = Checkpoint.objects.update_or_create(
            name=DEMO_CHECKPOINT, defaults={"path": str(path)}
        )
    return TracesDemo(problems, evaluations, references, checkpoint)
