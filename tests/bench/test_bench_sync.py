"""The sync benchmark runs end to end at a tiny size, so it cannot rot."""
from benchmarks import sync as bench


def test_sync_benchmark_runs_at_a_tiny_size(capsys):
    assert bench.main(["--sizes", "300,1200", "--exif", "60", "--s3-objects", "300", "--s3-nights", "5",
                       "--delay-ms", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    verdicts = [line for line in out if line.startswith(("PASS ", "MISS "))]
    # local: re-sync, first sync, peak, growth; exif: floor (and camtraptools where installed); s3: full, quick
    assert len(verdicts) in (7, 8), out
    assert any("S3 quick sync after one new night" in line for line in verdicts)
    assert all("×" in line and "target" in line for line in verdicts)
    assert out[-1].endswith("targets met")


def test_the_proxys_indexed_listing_answers_as_moto_does(s3, s3_endpoint):
    """The benchmark's fast list answers (s3_proxy.IndexedLister) page, roll up and encode as moto does."""
    import boto3
    from moto.s3.models import s3_backends

    from benchmarks.s3_proxy import DelayProxy, IndexedLister

    client, bucket = s3
    keys = [f"st/2024-06-0{night}/{n:03d}.jpg" for night in (1, 2, 3) for n in range(7)]
    keys += ["st/loose a+b.jpg", "st/2024-06-02/deep/é.jpg", "other/x.jpg", "st/2024-06-01.jpg"]
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=b"x" * len(key))

    def listing(endpoint, **params):
        other = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                             region_name="us-east-1")
        pages = other.get_paginator("list_objects_v2").paginate(Bucket=bucket, **params)
        return [([(c["Key"], c["Size"]) for c in page.get("Contents", ())],
                 [c["Prefix"] for c in page.get("CommonPrefixes", ())], page["IsTruncated"]) for page in pages]

    backend = next(iter(s3_backends.values()))["global"]
    with DelayProxy(s3_endpoint, delay=0.0, lister=IndexedLister(backend)) as proxy:
        for params in ({"Prefix": "st/"}, {"Prefix": "st/", "Delimiter": "/"}, {"Prefix": "st/2024-06-02/", "Delimiter": "/"},
                       {"Prefix": "st/", "StartAfter": "st/2024-06-02/003.jpg"}, {"Prefix": ""}):
            for size in (3, 1000):
                params["PaginationConfig"] = {"PageSize": size}
                assert listing(proxy.url, **params) == listing(s3_endpoint, **params), params
        assert proxy.lists > 0
