"""Sessions leaving the site: a project's `sessions.csv`, its Camtrap DP 1.0 package and its `operation.csv`."""
from .camtrap_dp import camtrap_dp_zip, spatial_coverage
from .common import ExportConflict, with_offset
from .operation import operation_csv
from .sessions import SESSIONS_CSV_COLUMNS, sessions_csv

__all__ = [
    "camtrap_dp_zip",
    "ExportConflict",
    "operation_csv",
    "sessions_csv",
    "SESSIONS_CSV_COLUMNS",
    "spatial_coverage",
    "with_offset",
]
