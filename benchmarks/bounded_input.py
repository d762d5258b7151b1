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

from benchmarks.report import Table, Verdicts, milliseconds

OVER_VALID = 3.0
TABLE = Table(("value", "<18"), ("request ms", ".2f"), ("vs valid", ".2f"), ("parser µs", ".1f"))
# label → (typed gap, expected status)
HOSTILE = {
    "1e999990": ("1e999990", 400),
    "1e999999999": ("1e999999999", 400),
    "11 MB of digits": ("9" * 11_000_000, 413),
}


def _median_ms(action, rounds: int) -> float:
    """Median time of `action` in ms, after one untimed call: the first of each kind renders its template
    for the first time, which is no part of what the value costs."""
    action()
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
            print(TABLE.header)
            print(TABLE.row("2 (valid, saved)", baseline, 1.0,
                            _median_ms(lambda: clean_gap_hours("2"), args.rounds) * 1000))
            checks = Verdicts()
            for label, (value, status) in HOSTILE.items():
                request_ms = _median_ms(post(value, status), args.rounds)

                def parse(value=value):
                    try:
                        clean_gap_hours(value)
                    except ValueError:
                        pass
                parser_us = _median_ms(parse, args.rounds) * 1000
                print(TABLE.row(label, request_ms, request_ms / baseline, parser_us))
                checks.at_most(f"{label} answered {status}", request_ms, baseline, "the valid form", OVER_VALID,
                               show=milliseconds)
    checks.print_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
