"""Storage sources: which data a project's stations may read, and how to read it.

A superuser registers sources (a folder under DATA_SOURCE_ROOTS, or
`s3://bucket/prefix` with its own endpoint and credentials) and grants them to
projects. A station's `data_source` must lie inside a source its project may
use; the check answers the same message whether a path exists or not, so it
cannot be used to probe the server's files. Paths are shown to people relative
to their source, never as the server's absolute paths.
"""
import base64
import os
import posixpath
import re
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from ..extensions import db
from ..models import Project, StorageGrant, StorageSource
from ..validation import ValidationError, clean_name
from .files import S3_URL, DataSourceError

NOT_INSIDE = "not inside a storage source of this project"
MAX_LOCATION_LENGTH = StorageSource.location.type.length
MAX_KEY_LENGTH = 512
_ENDPOINT = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?(/[^\s]*)?$")
_HKDF_INFO = b"ami-sessions storage-source credentials"


def _fernet() -> Fernet:
    """The cipher for stored credentials, keyed by SECRET_KEY through HKDF-SHA256."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt_secret(token: str | None) -> str | None:
    """The stored credential in clear, or None if absent or not readable with this SECRET_KEY."""
    if not token:
        return None
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return None


# --- locations -------------------------------------------------------------


def s3_parts(url: str) -> tuple[str, str]:
    """Bucket and key prefix (no leading or trailing "/") of a valid s3:// URL."""
    match = S3_URL.match(url)
    prefix = posixpath.normpath("/" + (match["prefix"] or "")).strip("/")
    return match["bucket"], prefix


def _clean_s3_url(value: str) -> str:
    match = S3_URL.match(value)
    if not match or ".." in (match["prefix"] or "").split("/"):
        raise DataSourceError("Not a valid s3://bucket/prefix URL.")
    bucket, prefix = s3_parts(value)
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


def _real(path: str) -> Path:
    """The path with every symlink of its existing part resolved; the path need not exist."""
    return Path(os.path.realpath(path))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _data_roots() -> list[Path]:
    return [_real(root) for root in current_app.config["DATA_SOURCE_ROOTS"]]


def clean_location(value) -> str:
    """A source location: a folder under DATA_SOURCE_ROOTS (resolved) or `s3://bucket/prefix`."""
    if not isinstance(value, str) or not value.strip():
        raise DataSourceError("A folder or an s3://bucket/prefix URL is required.")
    value = value.strip()
    if len(value) > MAX_LOCATION_LENGTH:
        raise DataSourceError(f"At most {MAX_LOCATION_LENGTH} characters.")
    if value.startswith("s3://"):
        return _clean_s3_url(value)
    if "://" in value:
        raise DataSourceError("Only local folders and s3:// URLs are supported.")
    if "\x00" in value or not os.path.isabs(value):
        raise DataSourceError("Enter an absolute folder path under DATA_SOURCE_ROOTS.")
    real = _real(value)
    # The roots are checked before the path is touched, so the answer says nothing about other paths.
    if not any(_inside(real, root) for root in _data_roots()):
        raise DataSourceError("The folder is outside DATA_SOURCE_ROOTS.")
    if not real.is_dir():
        raise DataSourceError("The folder does not exist.")
    return str(real)


def _clean_endpoint(value) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > MAX_LOCATION_LENGTH or not _ENDPOINT.match(value.strip()):
        raise ValueError("Must be an http:// or https:// URL.")
    return value.strip()


def _clean_key(value) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > MAX_KEY_LENGTH:
        raise ValueError(f"Must be text of at most {MAX_KEY_LENGTH} characters.")
    return value.strip()


def _clean_flag(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError("Must be true or false.")
    return value


# --- registering and granting ----------------------------------------------


def register_source(data: dict) -> StorageSource:
    """Register a storage source from API-style data; every field error is collected at once."""
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for field, cleaner in (
        ("name", clean_name),
        ("location", clean_location),
        ("endpoint_url", _clean_endpoint),
        ("access_key", _clean_key),
        ("secret_key", _clean_key),
        ("open_to_all_projects", _clean_flag),
    ):
        if field not in data:
            continue
        try:
            cleaned[field] = cleaner(data[field])
        except ValueError as error:
            errors[field] = [str(error)]
    for field in ("name", "location"):
        if field not in data:
            errors[field] = [f"A {field} is required."]
    if "name" in cleaned and db.session.scalar(db.select(StorageSource.id).filter_by(name=cleaned["name"])):
        errors["name"] = ["A storage source with this name exists."]
    location = cleaned.get("location", "")
    if not location.startswith("s3://"):
        for field in ("endpoint_url", "access_key", "secret_key"):
            if cleaned.get(field):
                errors[field] = ["Only for s3:// locations."]
    if bool(cleaned.get("access_key")) != bool(cleaned.get("secret_key")) and "access_key" not in errors:
        errors["secret_key" if cleaned.get("access_key") else "access_key"] = ["Give both keys, or neither."]
    if errors:
        raise ValidationError(errors)
    source = StorageSource(
        name=cleaned["name"],
        location=location,
        endpoint_url=cleaned.get("endpoint_url"),
        access_key_encrypted=encrypt_secret(cleaned["access_key"]) if cleaned.get("access_key") else None,
        secret_key_encrypted=encrypt_secret(cleaned["secret_key"]) if cleaned.get("secret_key") else None,
        open_to_all_projects=cleaned.get("open_to_all_projects", False),
    )
    db.session.add(source)
    db.session.commit()
    return source


def grant(source: StorageSource, project: Project) -> StorageGrant:
    """Let the project's stations use the source (granting twice is harmless)."""
    existing = db.session.scalar(db.select(StorageGrant).filter_by(source_id=source.id, project_id=project.id))
    if existing is not None:
        return existing
    row = StorageGrant(source=source, project=project)
    db.session.add(row)
    db.session.commit()
    return row


def revoke(source: StorageSource, project: Project) -> bool:
    """Withdraw the project's grant; its stations on this source fail their next sync. True if one existed."""
    deleted = db.session.execute(
        db.delete(StorageGrant).where(StorageGrant.source_id == source.id, StorageGrant.project_id == project.id)
    ).rowcount
    db.session.commit()
    return bool(deleted)


def set_open_to_all(source: StorageSource, value: bool) -> None:
    """Open the source to every project (a single-team site), or only to its grants."""
    source.open_to_all_projects = bool(value)
    db.session.commit()


def sources_query():
    """Every storage source, by name."""
    return db.select(StorageSource).order_by(StorageSource.name, StorageSource.id)


def all_sources() -> list[StorageSource]:
    return db.session.scalars(sources_query()).all()


def grants_by_source() -> dict[int, list[int]]:
    """Every source's granted project ids, in one query."""
    grants: dict[int, list[int]] = {}
    rows = db.session.execute(
        db.select(StorageGrant.source_id, StorageGrant.project_id).order_by(StorageGrant.project_id)
    )
    for source_id, project_id in rows:
        grants.setdefault(source_id, []).append(project_id)
    return grants


# --- what a project may read ------------------------------------------------


def sources_for_project(project: Project | None) -> list[StorageSource]:
    """The sources the project's stations may use: those granted to it and those open to all."""
    query = db.select(StorageSource).order_by(StorageSource.name, StorageSource.id)
    if project is None or project.id is None:
        return db.session.scalars(query.where(StorageSource.open_to_all_projects.is_(True))).all()
    granted = db.select(StorageGrant.source_id).where(StorageGrant.project_id == project.id)
    return db.session.scalars(
        query.where(StorageSource.open_to_all_projects.is_(True) | StorageSource.id.in_(granted))
    ).all()


def _local_base(source: StorageSource) -> Path | None:
    """The source's folder, if it still lies under DATA_SOURCE_ROOTS (roots may shrink)."""
    base = _real(source.location)
    return base if any(_inside(base, root) for root in _data_roots()) else None


def _s3_contains(source: StorageSource, bucket: str, prefix: str) -> bool:
    source_bucket, source_prefix = s3_parts(source.location)
    if bucket != source_bucket:
        return False
    return not source_prefix or prefix == source_prefix or prefix.startswith(source_prefix + "/")


def source_of(project: Project | None, value: str, sources: list[StorageSource] | None = None) -> StorageSource | None:
    """The project's storage source that holds `value` (an already normalised data source), or None.

    `sources`, when given, are the project's (`sources_for_project`), read
    once by a caller that asks for many stations of one project.
    """
    if not value:
        return None
    if sources is None:
        sources = sources_for_project(project)
    if value.startswith("s3://"):
        if not S3_URL.match(value):
            return None
        bucket, prefix = s3_parts(value)
        # The innermost prefix wins, as for folders: with two sources on one bucket, a station is read
        # with the keys and endpoint of the source closest to it, whatever the sources' names.
        holders = [s for s in sources if s.is_s3 and _s3_contains(s, bucket, prefix)]
        return max(holders, key=lambda s: len(s3_parts(s.location)[1]), default=None)
    real = _real(value)
    best = None
    for source in sources:
        if source.is_s3:
            continue
        base = _local_base(source)
        # The innermost source wins, so a path is shown relative to the closest folder.
        if base is not None and _inside(real, base) and (best is None or len(base.parts) > len(best[1].parts)):
            best = (source, base)
    return best[0] if best else None


def check_data_source(project: Project | None, value) -> str:
    """A station's data source, normalised, or DataSourceError.

    Anything outside the sources the project may use gets the same message,
    NOT_INSIDE, whether the path exists or not (symlinks are resolved first).
    Only inside a source of the project does the answer say that a folder
    does not exist or cannot be read.
    """
    if not isinstance(value, str):
        raise DataSourceError("Must be a folder path or an s3:// URL.")
    value = value.strip()
    if not value:
        raise DataSourceError("A data source is required.")
    if len(value) > MAX_LOCATION_LENGTH:
        raise DataSourceError(f"At most {MAX_LOCATION_LENGTH} characters.")
    if value.startswith("s3://"):
        normalised = _clean_s3_url(value)
        if source_of(project, normalised) is None:
            raise DataSourceError(NOT_INSIDE)
        return normalised
    if "://" in value:
        raise DataSourceError("Only local folders and s3:// URLs are supported.")
    if "\x00" in value:
        raise DataSourceError(NOT_INSIDE)
    if not os.path.isabs(value):
        named = named_location(project, value)
        if named is None:
            raise DataSourceError(NOT_INSIDE)
        if named.startswith("s3://"):
            return check_data_source(project, named)
        value = named
    real = _real(value)
    if source_of(project, str(real)) is None:
        raise DataSourceError(NOT_INSIDE)
    if not real.exists():
        raise DataSourceError("The folder does not exist.")
    if not real.is_dir():
        raise DataSourceError("The data source is not a folder.")
    if not os.access(real, os.R_OK | os.X_OK):
        raise DataSourceError("The folder is not readable by the server.")
    return str(real)


def relative_to_source(source: StorageSource, value: str) -> str:
    """`value`'s path inside `source`, with "/" separators ("" for the source itself)."""
    if source.is_s3:
        _, prefix = s3_parts(value)
        _, source_prefix = s3_parts(source.location)
        return prefix[len(source_prefix):].strip("/") if source_prefix else prefix
    rel = _real(value).relative_to(_real(source.location))
    return "" if str(rel) == "." else rel.as_posix()


def named_location(project: Project | None, value: str) -> str | None:
    """The folder (or S3 URL) that `<source name>:<path inside it>` names, or None if no source of the project has that name.

    The path is joined as typed: the caller still checks that what it names
    lies inside the source after symlinks and ".." are resolved.
    """
    # The longest name first, so "Field:2024" is not read as a source "Field" when "Field:2024" is one.
    for source in sorted(sources_for_project(project), key=lambda s: len(s.name), reverse=True):
        if not value.startswith(source.name + ":"):
            continue
        inside = value[len(source.name) + 1:].strip().strip("/")
        if source.is_s3:
            return f"{source.location.rstrip('/')}/{inside}" if inside else source.location
        return os.path.join(source.location, inside) if inside else source.location
    return None


def source_form(project: Project | None, value: str | None, sources: list[StorageSource] | None = None) -> str | None:
    """A local data source as members see and type it, `<source name>:<path inside it>`; S3 URLs as they are.

    None for a local path inside no source of the project (its grant was
    revoked): there is no form of it that names no server folder.
    """
    if not value:
        return ""
    if value.startswith("s3://"):
        return value
    source = source_of(project, value, sources)
    if source is None:
        return None
    return f"{source.name}:{relative_to_source(source, value)}"


def display_path(project: Project | None, value: str | None, sources: list[StorageSource] | None = None) -> str:
    """How a data source is shown to people: "<source name>/<path inside it>".

    A local path outside the project's sources shows only its last part, so
    no page or log reveals the server's folders.
    """
    if not value:
        return ""
    source = source_of(project, value, sources)
    if source is not None:
        rel = relative_to_source(source, value)
        return f"{source.name}/{rel}" if rel else source.name
    if value.startswith("s3://"):
        return value
    return f"…/{Path(value).name}" if Path(value).name else "…"


# --- reading a source -------------------------------------------------------


def s3_client(
    source: StorageSource, connect_timeout: float | None = None, read_timeout: float | None = None,
    pool_size: int | None = None,
):
    """A boto3 S3 client built only from the source's own endpoint and credentials.

    Never the server's own credentials or endpoint settings: a source
    without credentials is read anonymously. Timeouts (seconds) are for
    callers inside a web request, where a stalled store must not hold a worker;
    `pool_size` is the number of connections for callers with concurrent requests.
    """
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    access_key = decrypt_secret(source.access_key_encrypted)
    secret_key = decrypt_secret(source.secret_key_encrypted)
    if source.has_credentials and not (access_key and secret_key):
        raise DataSourceError(
            f"The keys of storage source {source.name} cannot be read with this SECRET_KEY; register the source again."
        )
    options = {"ignore_configured_endpoint_urls": True}
    if not access_key:
        options["signature_version"] = UNSIGNED
    if pool_size is not None:
        options["max_pool_connections"] = pool_size
    if connect_timeout is not None:
        options.update(connect_timeout=connect_timeout, read_timeout=read_timeout, retries={"max_attempts": 2})
    return boto3.client(
        "s3",
        endpoint_url=source.endpoint_url or None,
        aws_access_key_id=access_key or None,
        aws_secret_access_key=secret_key or None,
        region_name="us-east-1",
        config=Config(**options),
    )
