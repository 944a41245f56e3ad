from django.core.management.base import BaseCommand

from traces.demo import seed_traces_demo


class Command(BaseCommand):
    help = (
        "Import CoTempQA and bAbI with the authors' split, their published model outputs and the pilot's "
        "reference traces, and register a tiny random demo model."
    )

    def handle(self, *args, **options) -> None:
        demo = seed_traces_demo()
        self.stdout.write(
            f"Traces demo: {demo.problems_created} problems, {demo.evaluations_created} evaluations and "
            f"{demo.reference_traces_created} reference traces added; checkpoint '{demo.checkpoint.name}' at "
            f"{demo.checkpoint.path}."
        )
