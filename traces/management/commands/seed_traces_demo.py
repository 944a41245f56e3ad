from django.core.management.base import BaseCommand

from traces.demo import seed_traces_demo


class Command(BaseCommand):
    help = "Import CoTempQA and the pilot's reference traces, and register a tiny random demo model."

    def handle(self, *args, **options) -> None:
        demo = seed_traces_demo()
        self.stdout.write(
            f"Traces demo: {demo.problems_created} problems and {demo.reference_traces_created} reference "
            f"traces added; checkpoint '{demo.checkpoint.name}' at {demo.checkpoint.path}."
        )
