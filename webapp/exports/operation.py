"""`operation.csv`: the effort matrix, in the spirit of camtrapR's `cameraOperation`.

One row per station (`deployment_id, deployment_name`), one column per night
`YYYY-MM-DD`: the captures that night, 0 inside the station's operating
period with none, empty outside it.
"""
from datetime import date
from typing import Iterator

from ..charts import operation_matrix
from ..models import Project
from .common import csv_line


def operation_csv(project: Project, start: date | None = None, end: date | None = None) -> Iterator[str]:
    """The CSV lines; RangeError (from charts) before anything is yielded for a range that cannot be shown."""
    matrix = operation_matrix(project, start, end)
    return _lines(matrix)


def _lines(matrix) -> Iterator[str]:
    yield csv_line(["deployment_id", "deployment_name", *(night.isoformat() for night in matrix.nights)])
    for row in matrix.rows:
        yield csv_line([row.deployment_id, row.name, *("" if count is None else count for count in row.counts)])
