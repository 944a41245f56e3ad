from django.core.management.base import BaseCommand, CommandError

from traces import loaders
from traces.importing import PILOT_FILE, PILOT_SOURCE, import_authors_traces, import_reference_traces
from traces.models import ReferenceTrace


class Command(BaseCommand):
    help = (
        "Import published reasoning traces, summaries and post-hoc explanations for imported problems: "
        "the pilot file's JSON Lines (default: the 16 CoTempQA pilot problems), or, with --kind, one of "
        "the paper authors' SFT CSVs (data/cotempqa/sft_dataset_r1_traces/equal_test.csv and the like)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", nargs="?", default=str(PILOT_FILE))
        parser.add_argument(
            "--kind", choices=ReferenceTrace.Kind.values,
            help="The authors' CSV holds traces of this kind (r1: sft_dataset_r1_traces, r1_summary: "
            "…_summarized_r1_traces, posthoc: …_r1_explanations).",
        )
        parser.add_argument("--source", default="", help="A label for these traces; default: the file name.")

    def handle(self, *args, path: str, kind: str | None, source: str, **options) -> None:
        try:
            if kind:
                result = import_authors_traces(path, kind, source)
            else:
                default = PILOT_SOURCE if path == str(PILOT_FILE) else ""
                result = import_reference_traces(path, source or default)
        except (loaders.LoadError, OSError) as error:
            raise CommandError(f"Nothing was imported. {error}") from error
        self.stdout.write(f"Imported {result.created} traces ({result.already_there} were already there).")
