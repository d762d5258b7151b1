"""The SVG pictures, computed server-side: a station's gap histogram and session timeline, and a project's
operation calendar (with the stations × nights matrix of captures it draws, shared by its API and export)."""
from .histogram import gap_histogram
from .operation import operation_calendar
from .operation_data import MAX_NIGHTS, OperationMatrix, RangeError, night_counts, operation_matrix
from .timeline import session_timeline, timeline_months

__all__ = [
    "gap_histogram",
    "MAX_NIGHTS",
    "night_counts",
    "operation_calendar",
    "operation_matrix",
    "OperationMatrix",
    "RangeError",
    "session_timeline",
    "timeline_months",
]
