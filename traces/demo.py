"""Data for trying the model side in the demo: CoTempQA and bAbI problems with the paper authors'
split, their fine-tuned model's published outputs (so Table 1 has rows), the pilot's reference
traces, and a tiny random model registered as a checkpoint, so a job can be launched without any
download. Idempotent, like the study's demo seed."""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from . import loaders
from .authors_data import COTEMPQA_DIR, import_authors_data, import_published_outputs
from .importing import PILOT_FILE, PILOT_SOURCE, import_reference_traces, store_problems
from .models import Checkpoint, Problem

DEMO_CHECKPOINT = "tiny-random-demo"


@dataclass(frozen=True)
class TracesDemo:
    problems_created: int
    evaluations_created: int
    reference_traces_created: int
    checkpoint: Checkpoint


def import_pilot() -> list[Problem]:
    """The pilot's CoTempQA problems, as CoTempQA's own files give them (so any later import finds them
    there), and the authors' published traces of them (source ``PILOT_SOURCE``), stored once; in the
    pilot file's order. The study's demo builds its stimuli from them."""
    _, rows = loaders.read_json_lines(PILOT_FILE)
    ids = [row["id"] for _, row in rows]
    loaded = {
        p.source_id: p
        for relation in sorted({row["relation"] for _, row in rows})
        for p in loaders.load_cotempqa(COTEMPQA_DIR / f"{relation}.json", relation)
    }
    store_problems([loaded[i] for i in ids])
    import_reference_traces(PILOT_FILE, PILOT_SOURCE)
    stored = {p.source_id: p for p in Problem.objects.filter(dataset="cotempqa", source_id__in=ids)}
    return [stored[i] for i in ids]


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
