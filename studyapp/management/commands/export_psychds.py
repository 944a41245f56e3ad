"""Write a study's data as a Psych-DS package (zip), the same package as the API's psych-ds export."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from studyapp import audit
from studyapp.management import export_filters
from studyapp.psychds import package
from studyapp.psychds.describe import DatasetInfo
from studyapp.psychds.validate import check_description


class Command(BaseCommand):
    help = (
        "Write a study's data as a Psych-DS package to OUT (a .zip): every export as a CSV under data/ "
        "(the API's CSV downloads, without Prolific IDs and comments unless --include-identifiers), "
        "dataset_description.json describing every column, a "
        "README and CHANGES. Previews are left out unless asked for. Then lists what the metadata still "
        "lacks (licence, authors …) before the data can be deposited."
    )

    def add_arguments(self, parser) -> None:
        export_filters.add_arguments(parser)
        parser.add_argument("out", type=Path, help="The zip to write (its folder must exist).")
        parser.add_argument(
            "--include-identifiers", action="store_true",
            help="Keep the Prolific IDs and participants' comments (left out by default: a package is made "
            "to be deposited openly).",
        )
        parser.add_argument("--name", default="", help="The dataset's name (default: the study's title).")
        parser.add_argument("--description", default="", help="The dataset's description (default: the "
                            "study's design, task, conditions and participants).")
        parser.add_argument("--author", action="append", default=[], help="An author (repeat, in order).")
        parser.add_argument("--license", default="", help="The data's licence, best as a URL "
                            "(https://creativecommons.org/licenses/by/4.0/).")
        parser.add_argument("--citation", default="", help="How to cite the dataset or its paper.")
        parser.add_argument("--funder", default="", help="Sources of funding (grant numbers).")
        parser.add_argument("--url", default="", help="The dataset's canonical web address.")
        parser.add_argument("--identifier", default="", help="The dataset's identifier, such as a DOI.")
        parser.add_argument("--keyword", action="append", default=[], dest="keywords",
                            help="A keyword (repeat).")

    def handle(self, *args, slug: str, out: Path, **options) -> None:
        study, flt = export_filters.study_and_filter(slug, options)
        if not out.parent.is_dir():
            raise CommandError(f"No folder {out.parent} to write {out.name} in.")
        built = package.build(study, flt, DatasetInfo.given(options),
                              identifiers=options["include_identifiers"])
        package.write(built, out)
        audit.record(study, None, audit.Kind.EXPORT, f"export_psychds command: {out}")
        self.stdout.write(f"Wrote {out}")
        lacking = check_description(built.description)
        for issue in lacking:
            self.stdout.write(f"  {issue.level} {issue.code}: {issue.detail}")
        if lacking:
            self.stdout.write("  Give what is recommended with the options (--license, --author …) or add "
                              "it to dataset_description.json before depositing.")
        if options["include_identifiers"]:
            self.stdout.write(
                "  The data files hold Prolific IDs (prolific_pid, prolific_study_id, prolific_session_id) "
                "and participants' comments: remove them before depositing the data openly."
            )
