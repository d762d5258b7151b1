"""Hostile-input benchmark: `python -m benchmarks.bounded_input [--rounds 21]`.

Times, through the real application (test client, SQLite in a temporary
folder), a signed-in POST of the project settings form with a session gap of
`1e999990` and `1e999999999` (400) and an 11 MB run of digits (413 under the
default MAX_CONTENT_LENGTH), against the same form with a valid gap of 2 hours
(the baseline, which also writes the setting), and the parser alone on each
value. Every hostile request must cost at most OVER_VALID times the valid
one measured in the same run (which parses, checks and saves): a number no
one can make expensive. Bodies are encoded before the clock starts.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from benchmarks.report import Verdicts, milliseconds

OVER_VALID = 3.0
# label → (typed gap, expected status)
HOSTILE = {
    "1e999990": ("1e999990", 400),
    "1e999999999": ("1e999999999", 400),
    "11 MB of digits": ("9" * 11_000_000, 413),
}


def _median_ms(action, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _site(folder: Path):
    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import Membership, Project, User

    app = create_app({
        "TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'app.db'}",
        "INSTANCE_PATH": folder / "instance", "HUEY_URL": "memory://", "DATA_SOURCE_ROOTS": [str(folder)],
        "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
    })
    with app.app_context():
        db.create_all()
        user = User(email="bench@example.org")
        user.set_password("bench-password")
        project = Project(name="Bench")
        db.session.add_all([user, project, Membership(user=user, project=project, role="ProjectManager")])
        db.session.commit()
        project_id = project.id
    client = app.test_client()
    client.post("/login", data={"email": "bench@example.org", "password": "bench-password"})
    return app, client, project_id


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args(argv)

    from webapp.sessions import clean_gap_hours

    with tempfile.TemporaryDirectory() as tmp:
        app, client, project_id = _site(Path(tmp))
        path = f"/projects/{project_id}/settings"

        def post(value: str, expected: int):
            body = urlencode({"session_gap_hours": value, "session_keying": "date"}).encode()

            def action():
                response = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
                assert response.status_code == expected, (value[:20], response.status_code)
            return action

        with app.app_context():
            baseline = _median_ms(post("2", 303), args.rounds)
            print(f"bounded input benchmark — median of {args.rounds}; the machine is shared, so figures are noisy")
            print(f"{'value':<18} {'request ms':>10} {'vs valid':>9} {'parser µs':>10}")
            print(f"{'2 (valid, saved)':<18} {baseline:>10.2f} {'1.00x':>9} "
                  f"{_median_ms(lambda: clean_gap_hours('2'), args.rounds) * 1000:>10.1f}")
            verdicts = []
            for label, (value, status) in HOSTILE.items():
                request_ms = _median_ms(post(value, status), args.rounds)

                def parse(value=value):
                    try:
                        clean_gap_hours(value)
                    except ValueError:
                        pass
                parser_us = _median_ms(parse, args.rounds) * 1000
                print(f"{label:<18} {request_ms:>10.2f} {request_ms / baseline:>8.2f}x {parser_us:>10.1f}")
                verdicts.append((label, request_ms))
    checks = Verdicts()
    for label, request_ms in verdicts:
        checks.at_most(f"{label} answered {HOSTILE[label][1]}", request_ms, baseline, "the valid form", OVER_VALID,
                       show=milliseconds)
    checks.print_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
