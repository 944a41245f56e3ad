from django.core.management.base import BaseCommand, CommandError

from traces import loaders
from traces.importing import import_problems


class Command(BaseCommand):
    help = (
        "Import QA problems from a JSON Lines file, all or nothing. Example: "
        "import_problems cotempqa traces/data/cotempqa/equal.json --split equal"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("format", choices=sorted(loaders.LOADERS))
        parser.add_argument("path")
        parser.add_argument("--split", required=True, help="CoTempQA relation or bAbI task.")

    def handle(self, *args, format: str, path: str, split: str, **options) -> None:
        try:
            result = import_problems(format, path, split)
        except (loaders.LoadError, ValueError) as error:
            raise CommandError(f"Nothing was imported. {error}") from error
        self.stdout.write(f"Imported {result.created} problems ({result.already_there} were already there).")
