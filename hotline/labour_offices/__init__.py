"""The directory of local labour offices (PUP) that consultants transfer callers to: voivodeship → powiat →
office → number. Data: a CSV import file (:mod:`hotline.labour_offices.records`, the sample in
``offices.csv``), imported by :mod:`hotline.labour_offices.importer`, read through
:class:`hotline.labour_offices.directory.LabourOfficeDirectory`."""

from hotline.labour_offices.directory import (
    Branch,
    LabourOfficeDirectory,
    Office,
    Powiat,
    ServedPowiat,
    Voivodeship,
)
from hotline.labour_offices.importer import ImportReport, import_file, import_lines
from hotline.labour_offices.records import ImportFileError, Refusal

__all__ = [
    "Branch",
    "ImportFileError",
    "ImportReport",
    "LabourOfficeDirectory",
    "Office",
    "Powiat",
    "Refusal",
    "ServedPowiat",
    "Voivodeship",
    "import_file",
    "import_lines",
]
