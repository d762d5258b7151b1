"""Shapes of the clock-offset, operation and station health endpoints (beside `schemas.py`, which they share types with)."""
from datetime import date, datetime
from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

from .schemas import Id, Input, LocalTime, Output, UtcTime


def _local_time(value) -> datetime:
    """An ISO 8601 local clock time; a UTC offset is refused (offsets apply to the station's clock)."""
    if not isinstance(value, str):
        raise ValueError("Must be a date and time as text, e.g. 2024-06-01T22:00:00.")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("Must be a date and time, e.g. 2024-06-01T22:00:00.") from None
    if moment.tzinfo is not None:
        raise ValueError("Must be the station's local clock time, without a UTC offset.")
    return moment


LocalTimeInput = Annotated[datetime, BeforeValidator(_local_time),
                           WithJsonSchema({"type": "string", "format": "date-time"})]


class ClockOffsetCreate(Input):
    start: Annotated[LocalTimeInput, Field(description="First ORIGINAL capture time corrected (station clock)")]
    end: Annotated[LocalTimeInput, Field(description="Last ORIGINAL capture time corrected (inclusive)")]
    offset_seconds: Annotated[int, Field(strict=True, description="Added to the original time; may be negative")]


class ClockOffset(Output):
    id: Id
    deployment_id: Id
    start: LocalTime
    end: LocalTime
    offset_seconds: int
    created_by: str | None
    created_at: UtcTime
    job_id: Annotated[int | None, Field(description="The apply job queued by this request (POST only)")] = None


class ClockOffsetList(Output):
    count: int
    results: list[ClockOffset]


class OperationQuery(Input):
    start: Annotated[date | None, Field(description="First night (YYYY-MM-DD)")] = None
    end: Annotated[date | None, Field(description="Last night (YYYY-MM-DD); at most 731 nights in all")] = None


class OperationRow(Output):
    deployment_id: Id
    name: str
    counts: Annotated[list[int | None], Field(description="Captures per night; null outside the operating period")]


class Operation(Output):
    nights: list[str]
    deployments: list[OperationRow]


class HealthProblem(Output):
    kind: Annotated[str, Field(description="clock_reset, future_dates, time_backwards, outage, trigger_storm, "
                                           "daytime_captures or nights_joined")]
    severity: Annotated[str, Field(description="warning or error")]
    count: int
    first: Annotated[str, Field(description="The first affected time (station clock) or night (YYYY-MM-DD)")]
    last: Annotated[str, Field(description="The last affected time or night")]
    detail: str


class StationHealth(Output):
    deployment_id: Id
    computed_at: UtcTime | None
    problems: list[HealthProblem]
