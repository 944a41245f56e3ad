from django.core.management.base import BaseCommand, CommandError

from studyapp.demo import PILOT_FILE
from traces import loaders
from traces.importing import import_reference_traces


class Command(BaseCommand):
    help = (
        "Import published R1 traces, summaries and post-hoc explanations for imported problems "
        "(default: the 16 CoTempQA pilot problems), for the r1, r1_summary and posthoc settings."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", nargs="?", default=str(PILOT_FILE))

    def handle(self, *args, path: str, **options) -> None:
        try:
            result = import_reference_traces(path)
        except (loaders.LoadError, OSError) as error:
            raise CommandError(f"Nothing was imported. {error}") from error
        self.stdout.write(f"Imported {result.created} traces ({result.already_there} were already there).")
