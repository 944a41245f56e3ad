"""The study as one file (format ``trace-study/1``, described by ``study.schema.json``): everything that
defines a study, written by the exporter and read back by the importer, which refuses a file with
anything wrong, saying what and where, and changes nothing then. ``manage.py study_spec``, the admin's
download and upload, and the API's ``/studies/<slug>/spec/`` all call these.

- ``layout``: where each setting sits in the file; ``rows``: the rows a file makes;
- ``checking``: reading and checking a file; ``exporting``: writing one; ``importing``: creating its study;
- ``sections``: optional parts of the file: the library's covariate scales (``studyapp.scales``,
  registered here) and those other apps own (the analysis plan), registered from their apps.
"""

from ..scales import studies as scales_in_studies
from .checking import CheckedSpec, InvalidSpec, SpecError, read
from .exporting import dumps, export_study
from .importing import Imported, import_study
from .layout import EXAMPLE_PATH, FORMAT, SCHEMA_PATH
from .sections import Section, register

register(Section(scales_in_studies.KEY, scales_in_studies.export_part, scales_in_studies.check_part,
                 scales_in_studies.create_part))

__all__ = [
    "EXAMPLE_PATH", "FORMAT", "SCHEMA_PATH", "CheckedSpec", "Imported", "InvalidSpec", "SpecError", "dumps",
    "export_study", "import_study", "read",
]
