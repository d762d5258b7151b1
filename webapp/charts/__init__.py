"""The SVG pictures of a station, computed server-side: its gap histogram and its session timeline."""
from .histogram import gap_histogram
from .timeline import session_timeline, timeline_months

__all__ = [
    "gap_histogram",
    "session_timeline",
    "timeline_months",
]
