"""What several benchmarks share: a throw-away PostgreSQL database, the app, a measured child process, percentiles."""
import multiprocessing
import os
import uuid

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://127.0.0.1:5432/test")


def make_app(url: str, instance: str, huey_url: str = "memory://", **config):
    from webapp import create_app

    return create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "HUEY_URL": huey_url, "INSTANCE_PATH": instance,
         **config}
    )


def percentile(values: list[float], share: float) -> float:
    """The value `share` of the way up the sorted values (nearest rank): the benchmarks' p50 and p95."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def high_water_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: Linux carries that across
    fork and exec, so a spawned child would report its parent's peak."""
    return _status_mb("VmHWM")


def resident_mb() -> float:
    """This process's resident memory now (VmRSS)."""
    return _status_mb("VmRSS")


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def in_child(target, args: tuple, timeout: float):
    """What `target(*args, out)` puts on `out`, run in a fresh spawned process; raises if the child failed."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=target, args=(*args, out))
    process.start()
    result = out.get(timeout=timeout)
    process.join(timeout=60)
    if process.exitcode != 0:
        raise RuntimeError(f"benchmark child {target.__name__}{args} exited with {process.exitcode}")
    return result


def pg_database():
    """A throw-away PostgreSQL database, or None if the server does not answer."""
    try:
        import psycopg

        name = f"ami_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception:
        return None
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return name, f"{base}/{name}"


def drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
