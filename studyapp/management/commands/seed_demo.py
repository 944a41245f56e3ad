from django.core.management.base import BaseCommand

from studyapp.demo import participant_link, seed_demo
from studyapp.study_setup import answer_warnings


class Command(BaseCommand):
    help = (
        "Create the demo study from the CoTempQA pilot problems whose shown answer is right and "
        "contradicted by no trace. Running it again changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="For the printed links.")

    def handle(self, *args, base_url: str, **options) -> None:
        result = seed_demo()
        verb = "Created" if result.study_created else "Kept the existing"
        self.stdout.write(
            f"{verb} study '{result.study.slug}' ({result.study.get_status_display()}): "
            f"{result.stimuli_created} stimuli and {result.traces_created} traces added, "
            f"{result.study.stimuli.count()} stimuli in all."
        )
        if result.left_out:
            self.stdout.write(
                f"Left out: {', '.join(result.left_out)} (the answer shown would be wrong by the strict "
                "check, or contradicted by a condition's trace)."
            )
        for warning in answer_warnings(result.study):
            self.stdout.write(self.style.WARNING(f"Warning: {warning}"))
        self.stdout.write(f"Participant link: {participant_link(base_url, result.study)}")
        self.stdout.write(f"Preview (staff):  {base_url}/study/{result.study.slug}/preview/")
        self.stdout.write(f"Monitor (staff):  {base_url}/study/{result.study.slug}/monitor/")
