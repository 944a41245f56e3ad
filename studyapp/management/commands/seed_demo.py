from django.core.management.base import BaseCommand

from studyapp.demo import participant_link, seed_demo


class Command(BaseCommand):
    help = "Create the demo study from the 16 CoTempQA pilot problems. Running it again changes nothing."

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
        self.stdout.write(f"Participant link: {participant_link(base_url, result.study)}")
        self.stdout.write(f"Preview (staff):  {base_url}/study/{result.study.slug}/preview/")
        self.stdout.write(f"Monitor (staff):  {base_url}/study/{result.study.slug}/monitor/")
