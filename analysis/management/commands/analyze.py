"""python manage.py analyze <slug> [--json] [exclusion options]: the analysis report as JSON, or a short text
summary."""

from argparse import ArgumentTypeError
from dataclasses import replace

from django.core.management.base import BaseCommand, CommandError

from analysis.data import gather
from analysis.report import build, speeder_seconds, to_json
from analysis.report.options import PARADATA_RULES
from studyapp.models import Study


def _seconds(text: str) -> float:
    """argparse's type for --speeder-seconds: report.speeder_seconds, its message shown as the error."""
    try:
        return speeder_seconds(text)
    except ValueError as error:
        raise ArgumentTypeError(str(error)) from error


class Command(BaseCommand):
    help = "Print a study's analysis report: the same JSON as /analysis/<slug>/?format=json, or a summary."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--json", action="store_true", help="Print the full report as JSON.")
        # the exclusions default to the study's analysis plan; any given here is a deviation from it
        parser.add_argument("--no-attention", action="store_true", help="Keep failed attention checks.")
        parser.add_argument("--no-speeders", action="store_true", help="Keep speeders.")
        parser.add_argument(
            "--speeder-seconds", type=_seconds,
            help="Speeders: median trial page time under this many seconds (default: the plan's, 10).",
        )
        parser.add_argument("--no-straightlining", action="store_true", help="Keep straight-liners.")
        parser.add_argument("--straightline-scope", choices=["all", "trial"])
        parser.add_argument(
            "--exclude-paradata", action="append", choices=PARADATA_RULES, default=[], metavar="RULE",
            help=f"Apply a paradata rule the plan leaves off (repeatable): {', '.join(PARADATA_RULES)}.",
        )
        parser.add_argument(
            "--left-page-seconds", type=_seconds,
            help="left_page: seconds away from the pages in all (default: the plan's, 30).",
        )

    def handle(self, *args, **options) -> None:
        try:
            study = Study.objects.get(slug=options["slug"])
        except Study.DoesNotExist as missing:
            raise CommandError(f"No study with slug {options['slug']!r}.") from missing
        data = gather(study)
        planned = data.plan.options
        report = build(data, replace(
            planned,
            attention=planned.attention and not options["no_attention"],
            speeders=planned.speeders and not options["no_speeders"],
            speeder_seconds=(
                planned.speeder_seconds if options["speeder_seconds"] is None else options["speeder_seconds"]
            ),
            straightlining=planned.straightlining and not options["no_straightlining"],
            straightline_scope=options["straightline_scope"] or planned.straightline_scope,
            left_page_seconds=(planned.left_page_seconds if options["left_page_seconds"] is None
                               else options["left_page_seconds"]),
            **{rule: True for rule in options["exclude_paradata"]},
        ))
        if options["json"]:
            self.stdout.write(to_json(report))
            return
        ex = report["exclusions"]
        self.stdout.write(f"{report['study']['title']} ({report['study']['slug']})")
        self.stdout.write(
            f"Finished: {sum(ex['finished'].values())}, excluded: {ex['excluded_total']}, "
            f"analysed: {ex['analysed_total']} ("
            + ", ".join(f"{c}: {n}" for c, n in ex["analysed"].items()) + ")"
        )
        self.stdout.write(f"Analysis plan: {report['plan']['words']}")
        for result in report["primary"]["outcomes"] + report["secondary"]["outcomes"]:
            adjusted = result["p_holm_family"]
            holm = f" (Holm across the family: p = {adjusted:.3f})" if adjusted is not None else ""
            self.stdout.write(f"Planned test, {result['label']}: {result['words']}{holm}")
        for c in report["constructs"]:
            means = ", ".join(
                f"{d['condition']} {d['mean']:.2f}" if d["mean"] is not None else f"{d['condition']} -"
                for d in c["descriptives"]
            )
            self.stdout.write(f"{c['label']}: {means}. Kruskal-Wallis: {c['kruskal']['words']}")
        self.stdout.write(f"Attrition: {report['attrition']['test']['words']}")
        self.stdout.write(f"Sample size: {report['power']['planned']['words']}")
        self.stdout.write(f"Model evaluations: {len(report['models'])} checkpoint x setting rows.")
