"""Two Project managers demoted at the same moment: at least one remains.

Each demotion runs on its own thread and database connection. A barrier holds
every write to `membership` until both demotions have reached theirs (or a
second has passed, when one of them waits for the other's lock instead), so
a check-then-write that lets both through is caught every time."""
import threading

from flask import current_app
from sqlalchemy import event

from tests.conftest import add_user
from webapp.extensions import db
from webapp.models import Membership
from webapp.projects import set_member
from webapp.validation import ValidationError


def test_two_simultaneous_demotions_leave_a_manager(app, project, manager):
    second = add_user("second@example.org")
    set_member(project, second.email, "ProjectManager")
    racers = {}
    barrier = threading.Barrier(2, timeout=1.0)

    def hold_writes(conn, cursor, statement, parameters, context, executemany):
        if threading.current_thread() in racers and statement.lstrip().upper().startswith("UPDATE MEMBERSHIP"):
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass

    outcomes = {}
    flask_app = current_app._get_current_object()

    def demote(email):
        with flask_app.app_context():
            try:
                set_member(db.session.get(type(project), project.id), email, "BasicMember")
                outcomes[email] = "demoted"
            except ValidationError as error:
                outcomes[email] = error.errors["role"][0]
            finally:
                db.session.remove()

    event.listen(db.engine, "before_cursor_execute", hold_writes)
    try:
        threads = [threading.Thread(target=demote, args=(email,)) for email in (manager.email, second.email)]
        for thread in threads:
            racers[thread] = True
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        event.remove(db.engine, "before_cursor_execute", hold_writes)

    db.session.expire_all()
    managers = db.session.scalars(
        db.select(Membership.user_id).filter_by(project_id=project.id, role="ProjectManager")
    ).all()
    assert len(managers) == 1, outcomes
    assert sorted(outcomes.values()) == sorted(
        ["demoted", "This is the project's only ProjectManager; make someone else one first."]
    )
