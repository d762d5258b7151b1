"""Where generated thumbnails live: a local folder or an `s3://bucket/prefix`
(THUMBNAIL_ROOT), behind one small interface: save, delete, and how to reach a
stored file (a local path, or a signed URL that expires within the hour)."""
import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from ..sources import S3_URL

log = logging.getLogger(__name__)

# A signed URL outlives the 5-minute browser cache of the redirect that names it.
SIGNED_URL_SECONDS = 3600
S3_CONNECT_TIMEOUT = 5
S3_READ_TIMEOUT = 30


class StorageError(OSError):
    """The thumbnail storage refused or failed an operation."""


def s3_client():
    """A boto3 S3 client with finite timeouts, so a stalled store cannot hold a web worker."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        config=Config(connect_timeout=S3_CONNECT_TIMEOUT, read_timeout=S3_READ_TIMEOUT, retries={"max_attempts": 2}),
    )


class LocalStorage:
    """Thumbnails as files under a folder; the site serves them after a membership check."""

    def __init__(self, root: str):
        self.root = Path(root)

    def local_path(self, key: str) -> Path:
        return self.root / key

    def signed_url(self, key: str) -> str | None:
        return None

    def redirect_origin(self) -> str | None:
        """The site serves local thumbnails itself: no other origin."""
        return None

    def save(self, key: str, data: bytes) -> None:
        """Write atomically: a concurrent writer of the same key never leaves a torn file."""
        target = self.local_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def delete(self, key: str) -> None:
        try:
            self.local_path(key).unlink(missing_ok=True)
        except OSError as error:
            raise StorageError(f"cannot delete {self.local_path(key)}: {error}") from error


class S3Storage:
    """Thumbnails as objects under `s3://bucket/prefix`; reached through signed URLs."""

    def __init__(self, bucket: str, prefix: str):
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.client = s3_client()

    def local_path(self, key: str) -> None:
        return None

    def signed_url(self, key: str) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.prefix + key}, ExpiresIn=SIGNED_URL_SECONDS
        )

    def redirect_origin(self) -> str:
        """`scheme://host[:port]` of the signed URLs, read from one signed by this client.

        Signing is local (no request). The endpoint alone would not do: on AWS
        a signed URL names the bucket in its host (`bucket.s3.amazonaws.com`)
        while the client's endpoint is the regional one. Without credentials
        nothing can be signed; the endpoint's origin is the best guess then.
        """
        from botocore.exceptions import BotoCoreError

        try:
            url = self.signed_url("origin-probe.jpg")
        except BotoCoreError as error:
            log.warning("Cannot sign a thumbnail URL (%s); the CSP allows images from the S3 endpoint.", error)
            url = self.client.meta.endpoint_url
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    def save(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data, ContentType="image/jpeg")
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"cannot store s3://{self.bucket}/{self.prefix}{key}: {error}") from error

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"cannot delete s3://{self.bucket}/{self.prefix}{key}: {error}") from error


_storages: dict[str, LocalStorage | S3Storage] = {}


def storage_for(root: str) -> LocalStorage | S3Storage:
    """The storage of a THUMBNAIL_ROOT (kept per root: an S3 client is costly to build)."""
    storage = _storages.get(root)
    if storage is None:
        if root.startswith("s3://"):
            match = S3_URL.match(root)
            if match is None:
                raise ValueError(f"THUMBNAIL_ROOT {root!r} is not a valid s3://bucket/prefix URL.")
            storage = S3Storage(match["bucket"], match["prefix"] or "")
        else:
            storage = LocalStorage(root)
        _storages[root] = storage
    return storage
