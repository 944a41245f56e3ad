from django.core.management.base import BaseCommand, CommandError

from traces import loaders
from traces.evaluations import EvaluationError, import_outputs
from traces.models import Setting
from traces.splits import SplitError


class Command(BaseCommand):
    help = (
        "Import a JSON Lines file of model outputs made anywhere as an evaluation, every output graded. "
        "Example: import_outputs during.jsonl --dataset cotempqa --relation during "
        "--model Llama-3.2-1B-Instruct --setting decomposition_correct"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path")
        parser.add_argument("--dataset", required=True, help="cotempqa, babi or msmarco (problems stored).")
        parser.add_argument(
            "--relation", default="",
            help="CoTempQA: the relation the file holds. bAbI and MS MARCO take the task or query type from "
            "each line (or restrict to one: e.g. NUMERIC).",
        )
        parser.add_argument("--model", required=True, help="The model's name, as Table 1 will show it.")
        parser.add_argument("--setting", required=True, choices=Setting.values)
        parser.add_argument(
            "--split", default="authors",
            help="The stored split whose test problems the published step lookup reads ('' for none).",
        )

    def handle(self, *args, path: str, **options) -> None:
        try:
            evaluation = import_outputs(
                path, dataset=options["dataset"], model_name=options["model"], setting=options["setting"],
                subset=options["relation"], split_name=options["split"],
            )
        except (loaders.LoadError, EvaluationError, SplitError) as error:
            raise CommandError(f"Nothing was imported. {error}") from error
        self.stdout.write(
            f"Imported {evaluation.outputs.count()} outputs as evaluation #{evaluation.pk} ({evaluation}), "
            f"sha256 {evaluation.sha256[:12]}."
        )
