"""Configuration from the environment over safe defaults (the README lists every variable)."""
import os
import re
import secrets
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_PATH = REPO_ROOT / "instance"

DEFAULT_SESSION_GAP_SECONDS = 7200
DEFAULT_MAX_SESSION_SECONDS = 24 * 3600
# werkzeug's memory-hard default; not read from the environment (the test suite sets a fast one).
DEFAULT_PASSWORD_HASH_METHOD = "scrypt"
DEFAULT_THUMBNAIL_SIZES = "small:240,medium:1024"
# 100 MP: above every trap camera's sensor (the largest common ones are about 61 MP).
DEFAULT_THUMBNAIL_MAX_PIXELS = 100_000_000
_THUMBNAIL_SIZE = re.compile(r"^([a-z][a-z0-9_-]{0,31}):([1-9][0-9]{0,4})$")


def parse_thumbnail_sizes(text: str) -> dict[str, int]:
    """`label:width` pairs in their configured order; an empty text turns thumbnails off.

    A malformed pair stops the app from starting: a typo must not silently
    serve no thumbnails.
    """
    sizes = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        match = _THUMBNAIL_SIZE.match(item)
        if match is None:
            raise ValueError(f"THUMBNAIL_SIZES: {item!r} is not label:width (lower-case label, width 1–99999).")
        sizes[match[1]] = int(match[2])
    return sizes


def _persisted_secret_key(instance_path: Path) -> str:
    """A random key kept in the instance folder, so sessions survive restarts."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


# One per core, up to four: a helper spends most of its time in the kernel's `stat`; none on one core.
DEFAULT_SYNC_STAT_HELPERS = min(4, os.cpu_count() or 1) if (os.cpu_count() or 1) > 1 else 0


def _int_setting(env, name: str, default: int, minimum: int = 0) -> int:
    """A whole-number setting; a malformed or out-of-range value stops the start with its name."""
    text = env.get(name)
    if text is None or not text.strip():
        return default
    if not text.strip().isdigit() or len(text.strip()) > 15 or int(text) < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, not {text!r}.")
    return int(text)


def _flag_setting(env, name: str) -> bool:
    return (env.get(name) or "").strip().lower() in ("1", "true", "yes", "on")


def _ratelimit_storage(env, huey_url: str) -> str:
    """Where throttling counts live: set explicitly, else the queue's Redis, else this process's memory."""
    if env.get("RATELIMIT_STORAGE_URI"):
        return env["RATELIMIT_STORAGE_URI"]
    if huey_url.startswith(("redis://", "rediss://")):
        return huey_url
    return "memory://"


def from_environment(instance_path: Path = INSTANCE_PATH) -> dict:
    env = os.environ
    roots = env.get("DATA_SOURCE_ROOTS") or str(instance_path / "data")
    huey_url = env.get("HUEY_URL") or f"sqlite:///{instance_path / 'huey.db'}"
    return {
        "SECRET_KEY": env.get("SECRET_KEY") or _persisted_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL")
        or f"sqlite:///{instance_path / 'app.db'}",
        "HUEY_URL": huey_url,
        "HUEY_NAME": env.get("HUEY_NAME") or "ami-sessions",
        "RATELIMIT_STORAGE_URI": _ratelimit_storage(env, huey_url),
        # Set on every app: the limiter is one object, and an app that leaves
        # the key out would inherit the previous app's choice.
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STRATEGY": "moving-window",
        "SIGN_IN_ACCOUNT_LIMIT": env.get("SIGN_IN_ACCOUNT_LIMIT") or "10 per 15 minutes",
        "SIGN_IN_IP_LIMIT": env.get("SIGN_IN_IP_LIMIT") or "30 per 15 minutes",
        "TOKEN_FAILURE_LIMIT": env.get("TOKEN_FAILURE_LIMIT") or "30 per 15 minutes",
        "INVITATION_LIMIT": env.get("INVITATION_LIMIT") or "30 per hour",
        "REGROUP_LOCK_TTL_SECONDS": int(env.get("REGROUP_LOCK_TTL_SECONDS", "660")),
        "JOB_TIME_LIMIT_SECONDS": int(env.get("JOB_TIME_LIMIT_SECONDS", "600")),
        "JOB_HEARTBEAT_SECONDS": int(env.get("JOB_HEARTBEAT_SECONDS", "30")),
        # Reverse proxies in front of the site whose X-Forwarded-For/-Proto/-Host are trusted (docs/deploy.md).
        "TRUSTED_PROXY_COUNT": int(env.get("TRUSTED_PROXY_COUNT", "0")),
        "REAPER_INTERVAL_SECONDS": int(env.get("REAPER_INTERVAL_SECONDS", "60")),
        "JOB_QUEUE_LOST_SECONDS": int(env.get("JOB_QUEUE_LOST_SECONDS", "300")),
        "JOB_CLAIM_GRACE_SECONDS": _int_setting(env, "JOB_CLAIM_GRACE_SECONDS", 5),
        # A pooled connection that the server closed (restart, failover,
        # pg_terminate_backend) is replaced before use instead of failing a request.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "DATA_SOURCE_ROOTS": [p for p in roots.split(":") if p],
        "MAX_SESSION_SECONDS": DEFAULT_MAX_SESSION_SECONDS,
        "PASSWORD_HASH_METHOD": DEFAULT_PASSWORD_HASH_METHOD,
        "MAX_CONTENT_LENGTH": _int_setting(env, "MAX_CONTENT_LENGTH", 1048576, minimum=1024),
        "SESSION_COOKIE_SECURE": _flag_setting(env, "SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_SECURE": _flag_setting(env, "SESSION_COOKIE_SECURE"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "THUMBNAIL_SIZES": parse_thumbnail_sizes(env.get("THUMBNAIL_SIZES", DEFAULT_THUMBNAIL_SIZES)),
        "THUMBNAIL_ROOT": env.get("THUMBNAIL_ROOT") or str(instance_path / "thumbnails"),
        # The largest image, by its header's width × height, that is ever decoded (Pillow's MAX_IMAGE_PIXELS).
        "THUMBNAIL_MAX_PIXELS": _int_setting(env, "THUMBNAIL_MAX_PIXELS", DEFAULT_THUMBNAIL_MAX_PIXELS, minimum=1),
        # How long a request waits for another request's render of the same thumbnail.
        "THUMBNAIL_WAIT_SECONDS": _int_setting(env, "THUMBNAIL_WAIT_SECONDS", 10),
        # Processes that stat a long local listing's files for a sync (0: the sync's own process does).
        "SYNC_STAT_HELPERS": _int_setting(env, "SYNC_STAT_HELPERS", DEFAULT_SYNC_STAT_HELPERS),
    }
