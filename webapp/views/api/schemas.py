"""The API's request and response shapes, as pydantic models.

One set of models does three jobs: request bodies and query strings are
validated through them (`operations.py`), responses are built through them
(`serializers.py`), and the OpenAPI document is generated from them
(`openapi.py`), so the document cannot drift from what the API accepts and
answers. Field rules are the rooms' own cleaners (`sessions/rule.py`, `validation.py`, `projects/`),
so a page and the API refuse the same values with the same messages.
"""
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from ...grouping import KEYINGS
from ...job_types import JOB_TYPES
from ...models import JOB_STATUSES
from ...permissions import ROLES
from ...projects import STATION_STATES, clean_latitude, clean_longitude, clean_time_zone
from ...sessions import MAX_GAP_SECONDS, MIN_GAP_SECONDS, clean_gap_seconds, clean_keying
from ...validation import MAX_NAME_LENGTH, clean_name, clean_text

MAX_DIGITS = 50


def _literal(values) -> Any:
    return Literal[tuple(values)]


def parse_id(value) -> int:
    """A JSON body's object id: an integer, not a boolean."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("Must be a positive integer id.")
    return value


def _optional(cleaner):
    return lambda value: None if value is None else cleaner(value)


def _text(value) -> str:
    if not isinstance(value, str):
        raise ValueError("Must be text.")
    return value


def whole_number(minimum: int = 1, maximum: int | None = None):
    """A query-string integer: digits only (at most MAX_DIGITS), within bounds."""
    bounds = f"between {minimum} and {maximum}" if maximum is not None else f"of at least {minimum}"

    def parse(text) -> int:
        text = str(text)
        if not (text.isascii() and text.isdigit()) or len(text) > MAX_DIGITS:
            raise ValueError(f"Must be a whole number {bounds}.")
        value = int(text)
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError(f"Must be a whole number {bounds}.")
        return value

    return parse


Id = Annotated[int, Field(ge=1)]
Keying = _literal(KEYINGS)
Role = _literal(ROLES)
GapSeconds = Annotated[int, Field(ge=MIN_GAP_SECONDS, le=MAX_GAP_SECONDS), BeforeValidator(clean_gap_seconds)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH), BeforeValidator(clean_name)]

_TIME_SCHEMA = {"type": ["string", "null"], "format": "date-time"}
# Capture-derived times are the station's local clock (no zone); audit times are UTC (`Z`).
LocalTime = Annotated[
    datetime | None,
    PlainSerializer(lambda value: value.isoformat() if value is not None else None),
    WithJsonSchema(_TIME_SCHEMA),
]
UtcTime = Annotated[
    datetime | None,
    PlainSerializer(lambda value: value.isoformat() + "Z" if value is not None else None),
    WithJsonSchema(_TIME_SCHEMA),
]


class Input(BaseModel):
    """A request body or query string: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# -- errors and common answers --------------------------------------------------------


class Error(Output):
    detail: str
    errors: dict[str, list[str]] | None = None


class JobAccepted(Output):
    job_id: Id
    deployment_id: Id
    project_id: Id


# -- projects --------------------------------------------------------------------------


class ProjectCreate(Input):
    name: Name
    description: Annotated[str, BeforeValidator(clean_text)] = ""
    session_time_gap_seconds: GapSeconds = 7200
    session_keying: Annotated[Keying, BeforeValidator(clean_keying)] = "date"


class ProjectUpdate(Input):
    name: Name = None
    description: Annotated[str, BeforeValidator(clean_text)] = None
    session_time_gap_seconds: GapSeconds = None
    session_keying: Annotated[Keying, BeforeValidator(clean_keying)] = None


class Project(Output):
    id: Id
    name: str
    description: str
    session_time_gap_seconds: int
    session_keying: str
    created_at: UtcTime


class MemberInput(Input):
    email: Annotated[str, BeforeValidator(_text)]
    role: Role


class Membership(Output):
    project_id: Id
    user_id: Id
    email: str
    role: str


# -- stations --------------------------------------------------------------------------

DataSource = Annotated[str, Field(max_length=1024, description=(
    "A folder inside a storage source of the project, as `<source name>:<path inside it>` or as a server path, "
    "or s3://bucket/prefix"))]
OptionalGap = Annotated[
    Annotated[int, Field(ge=MIN_GAP_SECONDS, le=MAX_GAP_SECONDS)] | None,
    BeforeValidator(_optional(clean_gap_seconds)),
    Field(description="null = use the project's gap"),
]


TimeZone = Annotated[
    str,
    BeforeValidator(clean_time_zone),
    Field(max_length=64, description="IANA name of the station's clock (default UTC); it only adds the UTC offset "
                                     "where a time leaves the site"),
]


Latitude = Annotated[
    Annotated[float, Field(ge=-90, le=90)] | None,
    BeforeValidator(clean_latitude),
    Field(description="Decimal degrees (WGS 84), −90 to 90; null = not recorded. Set together with longitude"),
]
Longitude = Annotated[
    Annotated[float, Field(ge=-180, le=180)] | None,
    BeforeValidator(clean_longitude),
    Field(description="Decimal degrees (WGS 84), −180 to 180; null = not recorded. Set together with latitude"),
]


class DeploymentCreate(Input):
    project_id: Annotated[Id, BeforeValidator(parse_id)]
    name: Name
    data_source: Annotated[DataSource, BeforeValidator(_text)]
    session_time_gap_seconds: OptionalGap = None
    time_zone: TimeZone = "UTC"
    latitude: Latitude = None
    longitude: Longitude = None


class DeploymentUpdate(Input):
    name: Name = None
    data_source: Annotated[DataSource, BeforeValidator(_text)] = None
    session_time_gap_seconds: OptionalGap = None
    time_zone: TimeZone = None
    latitude: Latitude = None
    longitude: Longitude = None


class Deployment(Output):
    id: Id
    name: str
    project_id: int | None
    data_source: Annotated[str, Field(description=(
        "`<source name>:<path inside it>` (a superuser gets the server path); s3:// URLs as they are"))]
    data_source_display: Annotated[str, Field(description="The data source relative to its storage source")]
    session_time_gap_seconds: int | None
    time_zone: str
    latitude: Annotated[float | None, Field(description="Decimal degrees (WGS 84); null = not recorded")]
    longitude: Annotated[float | None, Field(description="Decimal degrees (WGS 84); null = not recorded")]
    effective_session_time_gap_seconds: int | None
    effective_session_time_gap_source: str
    captures_count: int
    events_count: int
    first_capture_timestamp: LocalTime
    last_capture_timestamp: LocalTime
    last_regrouped_at: UtcTime
    grouped_gap_seconds: int | None
    grouped_keying: str | None
    created_at: UtcTime
    deleting: bool


# -- storage sources ---------------------------------------------------------------------

OptionalText = Annotated[str | None, BeforeValidator(_optional(_text))]


class StorageSourceCreate(Input):
    name: Name
    location: Annotated[
        str, BeforeValidator(_text),
        Field(max_length=1024, description="A folder under DATA_SOURCE_ROOTS, or s3://bucket/prefix"),
    ]
    open_to_all_projects: Annotated[bool, Field(strict=True)] = False
    endpoint_url: Annotated[OptionalText, Field(description="S3 only: the service's http(s) URL")] = None
    access_key: Annotated[OptionalText, Field(description="S3 only; stored encrypted, never returned")] = None
    secret_key: Annotated[OptionalText, Field(description="S3 only; stored encrypted, never returned")] = None


class StorageSource(Output):
    id: Id
    name: str
    location: str
    endpoint_url: str | None
    has_credentials: bool
    open_to_all_projects: bool
    project_ids: list[int]
    created_at: UtcTime


class StorageGrantCreate(Input):
    project_id: Annotated[Id, BeforeValidator(parse_id)]


class StorageGrant(Output):
    source_id: Id
    project_id: Id


def _gap_from_query(text) -> int:
    """A gap from a query string: short signed digit runs are numbers, anything else is refused as text."""
    text = str(text)
    return clean_gap_seconds(int(text) if re.fullmatch(r"-?[0-9]{1,12}", text) else text)


class SyncQuery(Input):
    # "last": a quick sync, listing only what sorts after the newest night's last known file.
    since: Literal["last"] | None = None


class PreviewQuery(Input):
    gap_seconds: Annotated[
        Annotated[int, Field(ge=MIN_GAP_SECONDS, le=MAX_GAP_SECONDS)] | None,
        BeforeValidator(_optional(_gap_from_query)),
    ] = None
    keying: Annotated[Keying | None, BeforeValidator(_optional(clean_keying))] = None


class RegroupPreview(Output):
    gap_seconds: int
    keying: str
    sessions_before: int
    sessions_after: int
    longest_session_seconds: int
    max_session_seconds: int
    sessions_merged: int = Field(description="Current sessions that would share a session with another current one")
    sessions_split: int = Field(description="Current sessions whose captures would spread over two or more sessions")
    sessions_capped: int = Field(description="Sessions that would end at the maximum duration, not at a gap")
    single_capture_sessions: int
    captures_grouped: int


class RegroupRecord(Output):
    job_id: int | None
    finished_at: UtcTime
    user: str | None = Field(description="Email of who asked for the regroup")
    gap_seconds: int
    keying: str
    max_session_seconds: int
    sessions_before: int
    sessions_after: int


# -- sessions and jobs -----------------------------------------------------------------


class StationListFilter(Input):
    project: Annotated[Id, BeforeValidator(whole_number(1))]
    state: Annotated[
        _literal(STATION_STATES) | None,
        Field(description="As the stations filter on the project page"),
    ] = None


class DeploymentFilter(Input):
    deployment: Annotated[Id | None, BeforeValidator(_optional(whole_number(1)))] = None


Thumbnails = Annotated[dict[str, str], Field(description="label → URL of the thumbnail endpoint, for every configured size")]


class ExampleCapture(Output):
    id: Id
    timestamp: LocalTime
    thumbnails: Thumbnails


class Event(Output):
    id: Id
    deployment_id: Id
    project_id: int | None
    group_by: str
    start: LocalTime
    end: LocalTime
    duration_seconds: float | None
    captures_count: int
    gap_seconds: int | None = Field(None, description="The rule the session was cut with (null: not recorded)")
    keying: str | None = None
    max_session_seconds: int | None = None
    example_captures: Annotated[
        list[ExampleCapture],
        Field(max_length=4, description="First, middle and last capture of the session and its largest file"),
    ]


class ThumbnailQuery(Input):
    label: Annotated[str | None, Field(max_length=32, description="A configured size; default: the first")] = None


class CaptureFilter(Input):
    deployment: Annotated[Id, BeforeValidator(whole_number(1))]
    event: Annotated[Id | None, BeforeValidator(_optional(whole_number(1)))] = None


class Capture(Output):
    id: Id
    deployment_id: Id
    event_id: int | None = Field(description="The session whose span holds the timestamp, or null")
    timestamp: LocalTime
    original_timestamp: Annotated[LocalTime, Field(description="The file's time when a clock offset corrected it")] = None
    path: str
    thumbnails: Thumbnails


class Param(Output):
    name: str
    key: str
    value: Any


class Stage(Output):
    key: str
    name: str
    status: str
    progress: float
    params: list[Param]


class Summary(Output):
    status: _literal(JOB_STATUSES)
    progress: float


class Progress(Output):
    summary: Summary
    stages: list[Stage]


class Logs(Output):
    stdout: list[str]
    stderr: list[str]


class Job(Output):
    id: Id
    name: str
    job_type_key: _literal(JOB_TYPES)
    status: _literal(JOB_STATUSES)
    deployment_id: int | None
    project_id: int | None
    created_at: UtcTime
    started_at: UtcTime
    finished_at: UtcTime
    progress: Progress
    logs: Logs




class PageQuery(Input):
    page: Annotated[int, BeforeValidator(whole_number(1))] = 1
    page_size: Annotated[int, BeforeValidator(whole_number(1, 500)), Field(le=500)] = 50
