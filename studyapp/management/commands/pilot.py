"""Walk simulated participants through a study before launching it (see studyapp.pilot)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from studyapp.models import Pilot, Study
from studyapp.pilot import ANSWER_RULES, ATTENTION_RULES, run_and_record


class Command(BaseCommand):
    help = (
        "Walk N simulated participants through a study as preview participants (they count toward "
        "nothing), filling every page as a browser would, and report any page that failed, with the "
        "stimulus, condition and trace behind it. Exits with an error when one did. The run is recorded "
        "for the study's monitor. Run it before setting a study live."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="The study's slug.")
        parser.add_argument("--participants", type=int, default=8, help="How many bots (default 8).")
        parser.add_argument("--answers", choices=ANSWER_RULES, default="random",
                            help="Ratings: at random (default) or always this value.")
        parser.add_argument("--attention", choices=ATTENTION_RULES, default="pass",
                            help="Attention checks: pass (default), fail, or each at random.")
        parser.add_argument("--seed", type=int, help="Seed for the random answers (to repeat a run).")
        parser.add_argument("--user", help="Staff account to preview as (default: the first superuser).")

    def handle(self, *args, slug: str, participants: int, **options) -> None:
        try:
            study = Study.objects.get(slug=slug)
        except Study.DoesNotExist:
            raise CommandError(f"No study with slug '{slug}'.") from None
        if participants < 1:
            raise CommandError("--participants must be at least 1.")
        user = _staff_user(options["user"])
        pilot = Pilot.objects.create(
            study=study, bots=participants, answers=options["answers"], attention=options["attention"],
            seed=options["seed"], requested_by=user, from_command_line=True,
        )
        report = run_and_record(pilot)
        for run in report.runs:
            outcome = f"code {run.code}" if run.code else "FAILED"
            self.stdout.write(
                f"bot {run.number:>3} {run.condition:<14} {len(run.pages):>2} pages, "
                f"{run.checks_failed} checks failed, {outcome}"
            )
            for problem in run.problems:
                self.stdout.write(f"    {problem}")
        failed = report.failed
        if failed:
            raise CommandError(f"{len(failed)} of {len(report.runs)} bots ran into a failing page (above).")
        self.stdout.write(self.style.SUCCESS(
            f"All {len(report.runs)} bots reached the completion page of '{slug}'. They are preview "
            "participants: the exports include them only with --include-previews."
        ))


def _staff_user(username: str | None):
    users = get_user_model().objects.filter(is_active=True, is_staff=True)
    if username:
        user = users.filter(username=username).first()
        if user is None:
            raise CommandError(f"No active staff account '{username}'.")
        return user
    user = users.filter(is_superuser=True).order_by("pk").first()
    if user is None:
        raise CommandError(
            "The bots preview the study as a staff account and there is none: create one with "
            "'python manage.py createsuperuser', or name a staff account with --user."
        )
    return user
