"""A study's data as a Psych-DS package: one zip holding ``dataset_description.json``, ``README.md``,
``CHANGES.md`` and ``data/`` with one CSV per export, the API's CSV downloads (:mod:`studyapp.exports`)
without the columns that identify participants outside the platform unless asked for. The API's
``psych-ds`` export and ``manage.py export_psychds`` both make it here.

The zip is written as it streams: each table's CSV chunks go through the compressor and out, and the
zip records each file's sizes after its data (no seeking back), so memory stays one chunk of rows
however many responses the study has.
"""

import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.http import StreamingHttpResponse
from django.utils import timezone

from .. import exports
from ..models import Study
from .describe import DataFile, DatasetInfo, changes, datafile_path, dataset_description, readme


@dataclass(frozen=True)
class Package:
    """What goes into a study's package; the rows are read when it is written."""

    study: Study
    made_at: datetime
    description: dict
    readme: str
    changes: str
    files: list[tuple[DataFile, exports.Table]] = field(repr=False)

    @property
    def filename(self) -> str:
        return f"{self.study.slug}-psych-ds.zip"

    @property
    def folder(self) -> str:
        """The dataset's folder in the zip, so that unpacking it makes one folder."""
        return f"{self.study.slug}-psych-ds/"


def participants_text(flt: exports.ParticipantFilter) -> str:
    """Which participants the data files hold, in words, for the description and CHANGES."""
    text = ("every participant, researchers' previews included" if flt.include_previews
            else "every participant from Prolific, researchers' previews left out")
    chosen = [f"condition {flt.condition}" if flt.condition else "",
              f"status {flt.status}" if flt.status else "",
              "who completed the study" if flt.completed_only else ""]
    return text + "".join(f"; only {what}" for what in chosen if what)


def build(study: Study, flt: exports.ParticipantFilter, info: DatasetInfo, *,
          identifiers: bool = False) -> Package:
    """The study's package: every export ``export_study`` writes, as Psych-DS data files, and their
    description from the codebook. A package is made to be deposited openly, so it leaves out what
    identifies participants outside the platform (exports.IDENTIFYING_COLUMNS: Prolific IDs and the
    free-text comment) unless ``identifiers``."""
    tables = exports.data_tables(study, flt)
    if not identifiers:
        tables = [exports.without_identifiers(table) for table in tables]
    files = [(DataFile(datafile_path(study.slug, table.name), table.name, table.columns), table)
             for table in tables]
    who = participants_text(flt)
    description = dataset_description(exports.codebook(study), [f for f, _ in files], info, who)
    made_at = timezone.localtime()
    exported = made_at.date().isoformat()
    return Package(study, made_at, description, readme(description, [f for f, _ in files], exported),
                   changes(exported, who), files)


class _Pipe:
    """Where the zip writer writes: the bytes since they were last taken. It cannot seek, so the zip
    puts each file's sizes after its data."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing is held back: the bytes wait for :meth:`take`."""

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def chunks(package: Package) -> Iterator[bytes]:
    """The package's zip, a chunk at a time, as the tables' rows are read."""

    def entry(path: str) -> zipfile.ZipInfo:
        """A file of the package, dated when the package was made (local time, as zip dates are)."""
        info = zipfile.ZipInfo(package.folder + path, date_time=package.made_at.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        return info

    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w") as archive:
        text = json.dumps(package.description, ensure_ascii=False, indent=2) + "\n"
        archive.writestr(entry("dataset_description.json"), text)
        archive.writestr(entry("README.md"), package.readme)
        archive.writestr(entry("CHANGES.md"), package.changes)
        for data_file, table in package.files:
            # zip64 sizes: a data file's size is not known before it is written, and may pass 2 GiB
            with archive.open(entry(data_file.path), "w", force_zip64=True) as member:
                for chunk in table.chunks("csv"):
                    member.write(chunk)
                    if data := pipe.take():
                        yield data
    yield pipe.take()


def streaming_response(package: Package) -> StreamingHttpResponse:
    """The package as a streamed download."""
    response = StreamingHttpResponse(chunks(package), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{package.filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Accel-Buffering"] = "no"  # let a proxy (nginx) pass chunks on as they come
    return response


def write(package: Package, out: Path) -> None:
    """The package to ``out``, whole or not at all: written beside it under a temporary name, then
    renamed, so a failure part-way leaves no zip that looks complete."""
    handle, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as f:
            for chunk in chunks(package):
                f.write(chunk)
        os.replace(partial, out)
    except BaseException:
        os.unlink(partial)
        raise
