from django.core.management.base import BaseCommand

from traces.authors_data import AUTHORS_SPLIT, import_authors_data


class Command(BaseCommand):
    help = (
        "Import the paper authors' test problems of all four CoTempQA relations and bAbI as they used it, "
        "and record their train/test split as the split 'authors' (traces/data/trace_check_qa). Idempotent."
    )

    def handle(self, *args, **options) -> None:
        result = import_authors_data()
        self.stdout.write(f"Imported {result.problems_created} problems.")
        for dataset, (train, test) in result.sizes.items():
            self.stdout.write(f"Split {AUTHORS_SPLIT!r} of {dataset}: {train} train, {test} test problems.")
