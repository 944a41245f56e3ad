"""python manage.py model_table --dataset cotempqa [--json]: the paper's Table 1 from the database."""

from django.core.management.base import BaseCommand

from analysis.data import model_table_data
from analysis.model_table import render_text
from analysis.report import to_json


class Command(BaseCommand):
    help = (
        "Print Table 1 (answer and step accuracies per model, setting and relation under the paper's "
        "published, the authors' intended and the strict definitions, and the answer x step tables) "
        "for one dataset, from every evaluation stored: readable, or with --json as JSON."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dataset", required=True, help="cotempqa, babi or msmarco.")
        parser.add_argument("--json", action="store_true",
                            help="Print the table as JSON (see docs/model-side/metrics.md).")

    def handle(self, *args, dataset: str, **options) -> None:
        table = model_table_data(dataset)
        self.stdout.write(to_json(table) if options["json"] else render_text(table))
