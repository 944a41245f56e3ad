"""Walk simulated participants through a study before launching it (see studyapp.pilot)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from studyapp import access
from studyapp.models import Pilot, Study
from studyapp.pilot import ANSWER_RULES, ATTENTION_RULES, check_rules, parse_accuracy, run_and_record


class Command(BaseCommand):
    help = (
        "Walk N simulated participants through a study as preview participants (they count toward "
        "nothing in the study), filling every page as a browser would, and report any page that failed, with "
        "the stimulus, condition and trace behind it. Among themselves the bots take places, conditions and "
        "stimulus lists as the study's participants will, until the study is full of them; with --leave some "
        "stop part-way and are marked returned, so their places re-open. Exits with an error when a page "
        "failed. The run is recorded for the study's monitor. Run it before setting a study live."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="The study's slug.")
        parser.add_argument("--participants", type=int, default=8, help="How many bots (default 8).")
        parser.add_argument("--answers", choices=ANSWER_RULES, default="random",
                            help="Ratings: at random on each item's scale (default), or always this value "
                            "(refused if it is off some item's scale).")
        parser.add_argument("--attention", choices=ATTENTION_RULES, default="pass",
                            help="Attention checks: pass (default), fail, or each at random.")
        parser.add_argument("--leave", type=float, default=0.0,
                            help="Attrition: the share of bots (0 to 1, default 0) that stop at a random "
                            "trial and are marked returned, as participants who return the study on Prolific "
                            "are.")
        parser.add_argument("--accuracy", default="",
                            help="Verification and simulation: per condition code, the probability that a "
                            "bot answers the judgement correctly, e.g. steps=0.9,plain=0.6 (default: at "
                            "random).")
        parser.add_argument("--seed", type=int, help="Seed for the random answers (to repeat a run).")
        parser.add_argument("--user", help="Staff account to preview as (default: the first superuser).")

    def handle(self, *args, slug: str, participants: int, **options) -> None:
        try:
            study = Study.objects.get(slug=slug)
        except Study.DoesNotExist:
            raise CommandError(f"No study with slug '{slug}'.") from None
        if participants < 1:
            raise CommandError("--participants must be at least 1.")
        try:
            accuracy = parse_accuracy(options["accuracy"])
            check_rules(study, options["answers"], options["attention"], options["leave"], accuracy)
        except ValueError as error:
            raise CommandError(str(error)) from None
        user = _staff_user(options["user"])
        if not access.can(user, study, access.DESIGN):
            raise CommandError(f"'{user}' may not run pilot bots in '{slug}': that takes an owner of the "
                               "study, or an editor while it is a draft.")
        pilot = Pilot.objects.create(
            study=study, bots=participants, answers=options["answers"], attention=options["attention"],
            leave=options["leave"], seed=options["seed"], requested_by=user, from_command_line=True,
            accuracy=accuracy,
        )
        report = run_and_record(pilot)
        for run in report.runs:
            if run.left:
                outcome = f"left at {run.pages[-1]} (marked returned)"
            else:
                outcome = f"code {run.code}" if run.code else "FAILED"
            self.stdout.write(
                f"bot {run.number:>3} {run.where:<24} {len(run.pages):>2} pages, "
                f"{run.checks_failed} checks failed, {outcome}"
            )
            for problem in run.problems:
                self.stdout.write(f"    {problem}")
        if report.full_after is not None:
            self.stdout.write(
                f"The study was full after {report.full_after} bots (its targets, among this run's bots); "
                f"the other {participants - report.full_after} did not arrive."
            )
        failed = report.failed
        if failed:
            raise CommandError(f"{len(failed)} of {len(report.runs)} bots ran into a failing page (above).")
        left = sum(run.left for run in report.runs)
        completed = sum(run.reached_done for run in report.runs)
        leavers = f" and {left} left part-way as asked (marked returned)" if left else ""
        everyone = "All " if not left else ""
        self.stdout.write(self.style.SUCCESS(
            f"{everyone}{completed} bots reached the completion page of '{slug}'{leavers}. They are preview "
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
