"""Sync benchmark: `python -m benchmarks.sync [--sizes 250000,1000000] [--exif 20000] [--s3-objects 200000]
[--s3-nights 100] [--delay-ms 20] [--parts local,exif,s3]`.

Every time is measured in this run, each sync in a child process of its own
(a SQLite file, the sync stage only: the regroup and thumbnail stages are left
out), whose peak memory is its VmHWM.

- local: trees of name-timestamped files (hard links to a few small JPEGs,
  one folder per night). First sync and no-change re-sync at each size
  against the floor: `os.scandir` plus one `stat` per file over the same
  tree, in one process. A sync's peak counts its stat helpers (each at one
  helper's peak over full batches), whose CPU time is shown beside. Targets at the largest size: re-sync ≤ 1.5× the floor, first sync ≤ 3×,
  peak ≤ 250 MB, and peak growth from the smallest size ≤ 40 MB.
- exif: files named IMG_00001.JPG dated only by their EXIF. First sync
  against `camtraptools ingest` on the same folder (≥ 3× faster; installed by
  the `bench` extra) and against the floor of reading each file's first 64 KB
  (≤ 2.5×).
- s3: a moto server behind a proxy adding `--delay-ms` per request, objects
  spread over nights (`<station>/<date>/…`). Full sync against boto3's
  sequential paginator listing the same prefix (≥ 5× faster), then a quick
  sync (`since=last`) after one new night (≤ 3 list requests). List
  requests (delimiter ones too) are answered by the proxy from a sorted index
  of moto's keys (s3_proxy.IndexedLister, same XML) in a millisecond or two,
  as S3's cost is mostly its round trip: moto itself spends about 0.2 s of CPU
  rendering each 1,000-key page, which would bound both sides; objects still
  come from moto.
"""
import argparse
import io
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta

from benchmarks.report import Verdicts, seconds

DEFAULT_SIZES = (250_000, 1_000_000)
FILES_PER_NIGHT = 10_000
LINKS_PER_FILE = 50_000
START = datetime(2024, 5, 1, 21, 0)
BUCKET = "bench-sync"
MB = 1024 * 1024


def _verdict(what: str, ours: float, reference: float, name: str, target: float, at_most: bool = True,
             unit: str = "s") -> bool:
    """One PASS/MISS line through the shared helper, printed at once; whether it passed."""
    show = seconds if unit == "s" else (lambda value: f"{value:.0f} {unit}")
    checks = Verdicts()
    judge = checks.at_most if at_most else checks.at_least
    print(judge(what, ours, reference, name, target, show=show), flush=True)
    return checks.missed == 0


# --- the child: one sync in a fresh process ------------------------------------------------


def _child(spec: dict) -> dict:
    from webapp import create_app
    from webapp.extensions import db
    from webapp.jobs import JobRecorder, create_job
    from webapp.models import Deployment, Project
    from webapp.sources import register_source, sync_deployment

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{spec['db']}", "SECRET_KEY": "bench", "HUEY_URL": "memory://",
        "INSTANCE_PATH": spec["instance"], "DATA_SOURCE_ROOTS": [spec["root"]], "TESTING": True,
    })
    with app.app_context():
        if not os.path.exists(spec["db"]) or not os.path.getsize(spec["db"]):
            db.create_all()
        deployment = db.session.scalar(db.select(Deployment).filter_by(name="Bench"))
        if deployment is None:
            project = Project(name="Bench")
            db.session.add(project)
            db.session.commit()
            register_source({"name": "bench", "location": spec["location"], "open_to_all_projects": True,
                             **spec.get("source", {})})
            deployment = Deployment(name="Bench", project=project, data_source=spec["data_source"])
            db.session.add(deployment)
            db.session.commit()
        recorder = JobRecorder(create_job("data_storage_sync", deployment))
        helpers = app.config["SYNC_STAT_HELPERS"]
        started = time.perf_counter()
        result = sync_deployment(deployment, recorder, since_last=spec.get("since_last", False))
        seconds = time.perf_counter() - started
    with open("/proc/self/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"seconds": seconds, "peak_mb": peak_kb / 1024, "helpers": helpers,
            "helpers_cpu": children.ru_utime + children.ru_stime, "stats": result.stats}


def _run_child(spec: dict) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.sync", "--child", json.dumps(spec)],
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"the sync child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- local, name-timestamped ----------------------------------------------------------------


def _small_jpegs(count: int = 4) -> list[bytes]:
    from PIL import Image

    images = []
    for index in range(count):
        out = io.BytesIO()
        Image.new("RGB", (32, 24), (60 * index, 90, 140)).save(out, "JPEG")
        images.append(out.getvalue())
    return images


def build_named_tree(root: str, size: int) -> None:
    """`size` hard links to a few JPEGs, named by their time, FILES_PER_NIGHT per night folder
    (a new copy of a JPEG every LINKS_PER_FILE links: ext4 allows 65,000 links to one file)."""
    images = _small_jpegs()
    source = folder = None
    for i in range(size):
        if i % LINKS_PER_FILE == 0:
            source = os.path.join(root, f".source{i // LINKS_PER_FILE}.bin")
            with open(source, "wb") as file:
                file.write(images[(i // LINKS_PER_FILE) % len(images)])
        night, n = divmod(i, FILES_PER_NIGHT)
        if n == 0:
            folder = os.path.join(root, (START + timedelta(days=night)).strftime("%Y-%m-%d"))
            os.mkdir(folder)
        when = START + timedelta(days=night, seconds=3 * n)
        os.link(source, os.path.join(folder, when.strftime("%Y%m%d_%H%M%S.jpg")))


def scandir_floor(root: str) -> float:
    """`os.scandir` plus one `stat` per file over the tree: the least any listing costs."""
    started = time.perf_counter()
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as scan:
            for entry in scan:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entry.stat()
    return time.perf_counter() - started


def helper_peak_mb(root: str) -> float:
    """A stat helper's peak memory (VmHWM) over a few full batches of the tree (with their times, as in a
    first sync): it holds one run and one answer at a time, whatever the station's size."""
    from webapp.sources import local_listing

    runs = [run for _, run in zip(range(6), local_listing._runs(root + os.sep, "", root, None, 5000))]
    helpers = local_listing.StatHelpers.start(1)
    with helpers:
        for _ in helpers.batches(runs, with_times=True):
            pass
        with open(f"/proc/{helpers.processes[0].pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def bench_local(work: str, sizes: list[int]) -> list[bool]:
    print(f"{'files':>9} {'floor s':>8} {'first s':>8} {'resync s':>9} {'first MB':>9} {'resync MB':>10} "
          f"{'helpers MB':>11} {'helpers cpu s':>14}", flush=True)
    rows = {}
    for size in sizes:
        root = os.path.join(work, f"local{size}")
        os.makedirs(root)
        build_named_tree(root, size)
        scandir_floor(root)  # the cache warm, as for the syncs
        spec = {"db": os.path.join(work, f"local{size}.db"), "instance": os.path.join(work, "instance"),
                "root": root, "location": root, "data_source": root}
        first = _run_child(spec)
        again = _run_child(spec)
        floor = min(scandir_floor(root) for _ in range(3))
        # A sync's peak counts its stat helpers, each at one helper's peak.
        helpers_mb = first["helpers"] * helper_peak_mb(root)
        for run in (first, again):
            run["peak_mb"] += helpers_mb
        assert first["stats"]["Captures added"] == size and again["stats"]["Captures added"] == 0
        rows[size] = (floor, first, again)
        print(f"{size:>9} {floor:>8.2f} {first['seconds']:>8.2f} {again['seconds']:>9.2f} "
              f"{first['peak_mb']:>9.0f} {again['peak_mb']:>10.0f} {helpers_mb:>11.0f} "
              f"{first['helpers_cpu']:>6.2f}/{again['helpers_cpu']:<6.2f}", flush=True)
        shutil.rmtree(root)
    big, small = max(sizes), min(sizes)
    floor, first, again = rows[big]
    peak = max(first["peak_mb"], again["peak_mb"])
    verdicts = [
        _verdict(f"no-change re-sync of {big:,} files", again["seconds"], floor, "scandir+stat floor", 1.5),
        _verdict(f"first sync of {big:,} files", first["seconds"], floor, "scandir+stat floor", 3.0),
        _verdict(f"peak memory of a sync of {big:,} files", peak, 250, "the 250 MB budget", 1.0, unit="MB"),
    ]
    if small != big:
        small_peak = max(rows[small][1]["peak_mb"], rows[small][2]["peak_mb"])
        growth = max(peak - small_peak, 0.5)
        verdicts.append(_verdict(f"peak growth from {small:,} to {big:,} files", growth, 40,
                                 "the 40 MB budget", 1.0, unit="MB"))
    return verdicts


# --- EXIF-only ------------------------------------------------------------------------------


def build_exif_tree(folder: str, count: int) -> None:
    """`count` JPEGs named IMG_00001.JPG… with their own DateTimeOriginal and a maker note, as cameras write."""
    from PIL import Image

    os.makedirs(folder)
    image = Image.new("RGB", (64, 48), (30, 120, 60))
    for i in range(count):
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = (START + timedelta(seconds=20 * i)).strftime("%Y:%m:%d %H:%M:%S")
        exif.get_ifd(0x8769)[0x927C] = b"MakerNote" * 800
        exif[0x010F] = "Bench camera"
        image.save(os.path.join(folder, f"IMG_{i + 1:05d}.JPG"), "JPEG", exif=exif, quality=70)


def read_floor(folder: str) -> float:
    """Reading the first 64 KB of every file: the least an EXIF reader costs."""
    names = sorted(os.listdir(folder))
    started = time.perf_counter()
    for name in names:
        with open(os.path.join(folder, name), "rb", buffering=0) as file:
            file.read(64 * 1024)
    return time.perf_counter() - started


def camtraptools_ingest(images: str, out: str) -> float | None:
    tool = shutil.which("camtraptools") or os.path.join(os.path.dirname(sys.executable), "camtraptools")
    if not os.path.exists(tool):
        print("camtraptools is not installed (pip install -e '.[bench]'); its comparison is skipped", flush=True)
        return None
    started = time.perf_counter()
    subprocess.run([tool, "ingest", images, "--out", out], check=True, capture_output=True)
    return time.perf_counter() - started


def bench_exif(work: str, count: int) -> list[bool]:
    images = os.path.join(work, "exif")
    folder = os.path.join(images, "cam1")
    build_exif_tree(folder, count)
    read_floor(folder)
    spec = {"db": os.path.join(work, "exif.db"), "instance": os.path.join(work, "instance"),
            "root": images, "location": images, "data_source": folder}
    ours = _run_child(spec)
    assert ours["stats"]["Captures added"] == count and ours["stats"]["Failed"] == 0, ours["stats"]
    floor = min(read_floor(folder) for _ in range(3))
    peer = camtraptools_ingest(images, os.path.join(work, "package"))
    print(f"EXIF {count:,} files: ours {ours['seconds']:.2f} s, 64 KB read floor {floor:.2f} s"
          + (f", camtraptools ingest {peer:.2f} s" if peer else ""), flush=True)
    verdicts = [_verdict(f"EXIF-only first sync of {count:,} files", ours["seconds"], floor, "64 KB read floor", 2.5)]
    if peer:
        verdicts.append(_verdict(f"EXIF-only first sync of {count:,} files", ours["seconds"], peer,
                                 "camtraptools ingest", 3.0, at_most=False))
    shutil.rmtree(images)
    return verdicts


# --- S3 -------------------------------------------------------------------------------------


def _fill_bucket(backend, objects: int, nights: int, first_night: int = 0) -> None:
    per_night = max(1, objects // nights)
    for i in range(objects):
        night, n = divmod(i, per_night)
        day = START + timedelta(days=first_night + night)
        when = day + timedelta(seconds=10 * n)
        backend.put_object(BUCKET, f"st/{day:%Y-%m-%d}/{when:%Y%m%d_%H%M%S}.jpg", b"")


def _paginator_listing(endpoint: str) -> float:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="bench", aws_secret_access_key="bench",
                          region_name="us-east-1")
    started = time.perf_counter()
    count = sum(len(page.get("Contents", ())) for page in
                client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="st/"))
    seconds = time.perf_counter() - started
    assert count > 0
    return seconds


def bench_s3(work: str, objects: int, nights: int, delay: float) -> list[bool]:
    import boto3
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    from benchmarks.s3_proxy import DelayProxy, IndexedLister

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    moto_url = f"http://127.0.0.1:{server._server.server_address[1]}"
    try:
        boto3.client("s3", endpoint_url=moto_url, aws_access_key_id="bench", aws_secret_access_key="bench",
                     region_name="us-east-1").create_bucket(Bucket=BUCKET)
        backend = s3_backends["123456789012"]["global"]
        _fill_bucket(backend, objects, nights)
        lister = IndexedLister(backend)
        lister.warm(BUCKET)
        with DelayProxy(moto_url, delay, lister=lister) as proxy:
            baseline = _paginator_listing(proxy.url)
            spec = {"db": os.path.join(work, "s3.db"), "instance": os.path.join(work, "instance"), "root": work,
                    "location": f"s3://{BUCKET}", "data_source": f"s3://{BUCKET}/st",
                    "source": {"endpoint_url": proxy.url, "access_key": "bench", "secret_key": "bench"}}
            full = _run_child(spec)
            assert full["stats"]["Captures added"] == objects, full["stats"]
            _fill_bucket(backend, max(1, objects // nights), 1, first_night=nights)
            proxy.reset()
            quick = _run_child({**spec, "since_last": True})
            lists = proxy.lists
        assert quick["stats"]["Captures added"] == max(1, objects // nights), quick["stats"]
    finally:
        server.stop()
    print(f"S3 {objects:,} objects over {nights} nights, {delay * 1000:.0f} ms per request: full sync "
          f"{full['seconds']:.2f} s, sequential paginator listing {baseline:.2f} s; quick sync after one new night "
          f"{quick['seconds']:.2f} s with {lists} list requests", flush=True)
    return [
        _verdict(f"S3 full sync of {objects:,} objects", full["seconds"], baseline,
                 "boto3's sequential paginator", 5.0, at_most=False),
        _verdict("S3 quick sync after one new night", lists, 3, "the budget of 3 list requests", 1.0,
                 unit="requests"),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--exif", type=int, default=20_000)
    parser.add_argument("--s3-objects", type=int, default=200_000)
    parser.add_argument("--s3-nights", type=int, default=100)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--parts", default="local,exif,s3")
    parser.add_argument("--child")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0
    parts = set(args.parts.split(","))
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as work:
        if "local" in parts:
            verdicts += bench_local(work, sorted(int(s) for s in args.sizes.split(",")))
        if "exif" in parts:
            verdicts += bench_exif(work, args.exif)
        if "s3" in parts:
            verdicts += bench_s3(work, args.s3_objects, args.s3_nights, args.delay_ms / 1000)
    print(f"{sum(verdicts)}/{len(verdicts)} targets met", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
