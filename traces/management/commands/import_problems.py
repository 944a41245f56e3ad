from django.core.management.base import BaseCommand, CommandError

from traces import loaders
from traces.importing import import_problems


class Command(BaseCommand):
    help = (
        "Import QA problems from a data file, all or nothing. Examples: "
        "import_problems cotempqa traces/data/cotempqa/equal.json --subset equal; "
        "import_problems msmarco dev_v2.1.json.gz --subset dev"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("format", choices=sorted(loaders.LOADERS))
        parser.add_argument("path")
        parser.add_argument(
            "--subset", required=True,
            help="CoTempQA: the relation. bAbI (Hugging Face): the task. bAbI (the authors' CSV): a name for "
            "the file, used in the problems' ids (each row names its task). MS MARCO: a name for the file "
            "(e.g. dev), kept with each problem (each query names its type, the problem's subset).",
        )

    def handle(self, *args, format: str, path: str, subset: str, **options) -> None:
        try:
            result = import_problems(format, path, subset)
        except (loaders.LoadError, ValueError) as error:
            raise CommandError(f"Nothing was imported. {error}") from error
        self.stdout.write(f"Imported {result.created} problems ({result.already_there} were already there).")
