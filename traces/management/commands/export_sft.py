from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from traces import sft
from traces.models import Problem, ReferenceTrace


class Command(BaseCommand):
    help = "Write chat-format fine-tuning data (train and test JSON Lines) for one setting."

    def add_arguments(self, parser) -> None:
        parser.add_argument("setting", choices=sft.SETTINGS)
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--split", default="")
        parser.add_argument("--out", required=True, help="Folder for <setting>_train.jsonl and _test.jsonl.")
        parser.add_argument("--test-fraction", type=float, default=0.2)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, setting: str, dataset: str, split: str, out: str, **options) -> None:
        problems = Problem.objects.filter(dataset=dataset)
        if split:
            problems = problems.filter(split=split)
        if not problems.exists():
            raise CommandError(f"No problems in dataset {dataset!r}{f' split {split!r}' if split else ''}.")
        traces = None
        if setting in sft.TRACE_SETTINGS:
            traces = dict(
                ReferenceTrace.objects.filter(problem__in=problems, kind=setting)
                .values_list("problem__source_id", "text")
            )
        try:
            data = sft.build_examples(
                [p.as_plain() for p in problems.order_by("pk")], setting, traces=traces,
                test_fraction=options["test_fraction"], seed=options["seed"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        for side in ("train", "test"):
            n = sft.write_jsonl(data.split(side), folder / f"{setting}_{side}.jsonl")
            self.stdout.write(f"{folder / f'{setting}_{side}.jsonl'}: {n} examples")
        if data.n_skipped:
            self.stdout.write(f"{data.n_skipped} problems skipped: no {setting} trace.")
