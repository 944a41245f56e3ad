from django.core.management.base import BaseCommand

from traces.evaluations import regrade
from traces.models import GRADING_VERSION, Evaluation


class Command(BaseCommand):
    help = (
        "Grade stored model outputs again under the current definitions: the evaluations graded by an "
        "older version (the default), or all of them with --all."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--all", action="store_true", help="Every evaluation, not only outdated ones.")

    def handle(self, *args, **options) -> None:
        evaluations = Evaluation.objects.order_by("pk")
        if not options["all"]:
            evaluations = evaluations.exclude(grading_version=GRADING_VERSION)
        total = 0
        for evaluation in evaluations:
            total += regrade(evaluation)
            self.stdout.write(f"Evaluation #{evaluation.pk} ({evaluation}) graded again.")
        self.stdout.write(f"{total} outputs graded again.")
