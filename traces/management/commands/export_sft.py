from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from traces import sft
from traces.models import ReferenceTrace, SplitMember
from traces.splits import SplitError, get_split, split_problems


class Command(BaseCommand):
    help = (
        "Write chat-format fine-tuning data for one setting: <setting>_train.jsonl and "
        "<setting>_test.jsonl, the two sides of a stored split. Example: "
        "export_sft decomposition_correct --dataset babi --out var/sft"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("setting", choices=sft.SETTINGS)
        parser.add_argument("--dataset", required=True)
        parser.add_argument(
            "--subset", default="",
            help="A CoTempQA relation, bAbI task or MS MARCO query type (e.g. NUMERIC); default: all.",
        )
        parser.add_argument("--split", default="authors", help="The stored split whose sides are written.")
        parser.add_argument("--out", required=True, help="Folder for <setting>_train.jsonl and _test.jsonl.")
        parser.add_argument("--prompt-style", choices=sft.PROMPT_STYLES, default="project")
        parser.add_argument(
            "--model-family", choices=sft.MODEL_FAMILIES, default=None,
            help="With --prompt-style authors: the family whose system message the authors wrote.",
        )

    def handle(self, *args, setting: str, dataset: str, subset: str, split: str, out: str, **options) -> None:
        try:
            stored = get_split(dataset, split)
        except SplitError as error:
            raise CommandError(str(error)) from error
        sides = {side: list(split_problems(stored, side, subset)) for side in SplitMember.Side.values}
        problems = [p for side in sides.values() for p in side]
        if not problems:
            where = f"{dataset!r} / {subset!r}" if subset else repr(dataset)
            raise CommandError(f"No problems in split {split!r} of {where}.")
        system_message = ""
        if options["prompt_style"] == "authors":
            if options["model_family"] is None:
                raise CommandError("--prompt-style authors needs --model-family (for their system message)")
            system_message = sft.authors_system_message(options["model_family"])
        traces = None
        if setting in sft.TRACE_SETTINGS:
            traces = dict(
                ReferenceTrace.objects.filter(problem__in=problems, kind=setting)
                .values_list("problem__source_id", "text")
            )
        try:
            data = sft.build_examples(
                [p.as_plain() for p in problems], setting, traces=traces,
                sides={p.source_id: side for side, ps in sides.items() for p in ps},
                style=options["prompt_style"], system_message=system_message,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        for side in SplitMember.Side.values:
            n = sft.write_jsonl(data.side(side), folder / f"{setting}_{side}.jsonl")
            self.stdout.write(f"{folder / f'{setting}_{side}.jsonl'}: {n} examples")
        if data.n_skipped:
            self.stdout.write(f"{data.n_skipped} problems skipped: no {setting} trace.")
