"""The browser's way to create a project and to manage its members."""
import pytest

from tests.conftest import add_project, add_user, csrf_token_from
from webapp.extensions import db
from webapp.models import Membership, Project


def _post(client, url, data):
    token = csrf_token_from(client.get("/projects/").get_data(as_text=True))
    return client.post(url, data=dict(data, csrf_token=token))


def _role(user, project):
    db.session.expire_all()
    membership = db.session.scalar(db.select(Membership).filter_by(user_id=user.id, project_id=project.id))
    return membership.role if membership else None


# -- /projects/new ---------------------------------------------------------

def test_projects_list_links_to_the_new_project_form(client, auth, manager):
    auth.login()
    html = client.get("/projects/").get_data(as_text=True)
    assert 'href="/projects/new"' in html
    form = client.get("/projects/new").get_data(as_text=True)
    for field in ("name", "session_gap_hours", "session_keying"):
        assert f'name="{field}"' in form
    assert 'name="session_gap_hours" value="2"' in form


def test_any_user_creates_a_project_and_becomes_its_manager(client, auth, app):
    someone = add_user("someone@example.org", "pw-someone")
    auth.login("someone@example.org", "pw-someone")
    response = _post(client, "/projects/new", {"name": " Moths 2026 ", "session_gap_hours": "1.5", "session_keying": "night"})
    assert response.status_code == 303
    project = db.session.scalar(db.select(Project).filter_by(name="Moths 2026"))
    assert response.headers["Location"].endswith(f"/projects/{project.id}/")
    assert (project.session_time_gap_seconds, project.session_keying) == (5400, "night")
    assert _role(someone, project) == "ProjectManager"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "you are its ProjectManager" in html
    assert f'href="/projects/{project.id}/stations/new"' in html and f'href="/projects/{project.id}/members"' in html


@pytest.mark.parametrize(
    "form, field, message",
    [
        ({"name": "  ", "session_gap_hours": "2", "session_keying": "date"}, "name", "A name is required."),
        ({"name": "P", "session_gap_hours": "soon", "session_keying": "date"}, "session_gap_hours", "Enter a number of hours"),
        ({"name": "P", "session_gap_hours": "200", "session_keying": "date"}, "session_gap_hours", "at most 168 hours"),
        ({"name": "P", "session_gap_hours": "2", "session_keying": "weekly"}, "session_keying", "Must be one of: date, night, run."),
    ],
)
def test_new_project_field_errors_are_400_with_typed_values_kept(client, auth, manager, form, field, message):
    auth.login()
    response = _post(client, "/projects/new", form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html and 'class="field-error"' in html
    assert f'value="{form["session_gap_hours"]}"' in html
    assert db.session.scalar(db.select(db.func.count(Project.id))) == 0


def test_gap_and_name_errors_are_shown_together_and_nothing_is_created(client, auth, manager):
    auth.login()
    response = _post(client, "/projects/new", {"name": "", "session_gap_hours": "x", "session_keying": "date"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "A name is required." in html and "Enter a number of hours" in html
    assert db.session.scalar(db.select(db.func.count(Project.id))) == 0


def test_new_project_needs_csrf_and_sign_in(client, auth, manager):
    assert client.get("/projects/new").status_code == 302
    auth.login()
    assert client.post("/projects/new", data={"name": "P", "session_gap_hours": "2", "session_keying": "date"}).status_code == 400
    assert db.session.scalar(db.select(db.func.count(Project.id))) == 0


# -- /projects/<id>/members ------------------------------------------------

@pytest.fixture
def member(project):
    user = add_user("member@example.org", "pw-member")
    db.session.add(Membership(user=user, project=project, role="BasicMember"))
    db.session.commit()
    return user


def test_every_member_sees_the_list_but_only_a_manager_gets_the_forms(client, auth, project, manager, member):
    auth.login("member@example.org", "pw-member")
    response = client.get(f"/projects/{project.id}/members")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "manager@example.org" in html and "member@example.org" in html and "ProjectManager" in html
    assert 'name="email"' not in html and "/remove" not in html
    auth.logout()
    auth.login()
    html = client.get(f"/projects/{project.id}/members").get_data(as_text=True)
    assert 'name="email"' in html and 'name="role"' in html and "/remove" in html
    assert "The only ProjectManager: cannot be demoted or removed" in html


def test_manager_adds_a_member_by_email_with_a_role(client, auth, project, manager):
    researcher = add_user("researcher@example.org")
    auth.login()
    response = _post(client, f"/projects/{project.id}/members", {"email": " Researcher@Example.org ", "role": "Researcher"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/projects/{project.id}/members")
    assert _role(researcher, project) == "Researcher"
    assert "researcher@example.org added as Researcher." in client.get(response.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(
    "form, field_message",
    [
        # (An unknown but valid email gets an invitation: tests/accounts/test_invitations.py.)
        ({"email": "not-an-email", "role": "Researcher"}, "Enter a valid email address."),
        ({"email": "", "role": "Researcher"}, "An email is required."),
        ({"email": "manager@example.org", "role": "Researcher"}, "manager@example.org is already a member"),
        ({"email": "x@example.org", "role": "Boss"}, "Must be one of: BasicMember"),
    ],
)
def test_adding_a_member_reports_field_errors(client, auth, project, manager, form, field_message):
    add_user("x@example.org")
    auth.login()
    response = _post(client, f"/projects/{project.id}/members", form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_message in html
    assert f'value="{form["email"]}"' in html
    assert db.session.scalar(db.select(db.func.count(Membership.id))) == 1


def test_manager_changes_a_role_and_removes_a_member(client, auth, project, manager, member):
    membership = db.session.scalar(db.select(Membership).filter_by(user_id=member.id))
    auth.login()
    response = _post(client, f"/projects/{project.id}/members/{membership.id}/role", {"role": "MLDataManager"})
    assert response.status_code == 303
    assert _role(member, project) == "MLDataManager"
    response = _post(client, f"/projects/{project.id}/members/{membership.id}/remove", {})
    assert response.status_code == 303
    assert _role(member, project) is None
    assert "member@example.org removed from the project." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_the_last_manager_can_be_neither_demoted_nor_removed(client, auth, project, manager, member):
    own = db.session.scalar(db.select(Membership).filter_by(user_id=manager.id))
    auth.login()
    response = _post(client, f"/projects/{project.id}/members/{own.id}/role", {"role": "BasicMember"})
    assert response.status_code == 400
    assert "only ProjectManager; make someone else one first." in response.get_data(as_text=True)
    response = _post(client, f"/projects/{project.id}/members/{own.id}/remove", {})
    assert response.status_code == 400
    assert "cannot be removed" in response.get_data(as_text=True)
    assert _role(manager, project) == "ProjectManager"
    # With a second manager, the first may step down.
    other = db.session.scalar(db.select(Membership).filter_by(user_id=member.id))
    assert _post(client, f"/projects/{project.id}/members/{other.id}/role", {"role": "ProjectManager"}).status_code == 303
    assert _post(client, f"/projects/{project.id}/members/{own.id}/role", {"role": "Researcher"}).status_code == 303
    assert _role(manager, project) == "Researcher"


def test_member_without_manage_members_gets_403_and_nothing_changes(client, auth, project, manager, member):
    add_user("new@example.org")
    own = db.session.scalar(db.select(Membership).filter_by(user_id=member.id))
    boss = db.session.scalar(db.select(Membership).filter_by(user_id=manager.id))
    auth.login("member@example.org", "pw-member")
    assert _post(client, f"/projects/{project.id}/members", {"email": "new@example.org", "role": "BasicMember"}).status_code == 403
    assert _post(client, f"/projects/{project.id}/members/{own.id}/role", {"role": "ProjectManager"}).status_code == 403
    assert _post(client, f"/projects/{project.id}/members/{boss.id}/remove", {}).status_code == 403
    assert (_role(member, project), _role(manager, project)) == ("BasicMember", "ProjectManager")


def test_non_members_get_404_and_memberships_of_other_projects_are_404(client, auth, project, manager):
    add_user("outsider@example.org", "pw-out")
    other = add_project("Other", members=[(add_user("boss@example.org"), "ProjectManager")])
    foreign = db.session.scalar(db.select(Membership).filter_by(project_id=other.id))
    auth.login("outsider@example.org", "pw-out")
    assert client.get(f"/projects/{project.id}/members").status_code == 404
    assert _post(client, f"/projects/{project.id}/members", {"email": "outsider@example.org", "role": "ProjectManager"}).status_code == 404
    auth.logout()
    auth.login()
    assert _post(client, f"/projects/{project.id}/members/{foreign.id}/remove", {}).status_code == 404
    assert db.session.get(Membership, foreign.id) is not None


def test_a_manager_who_leaves_is_sent_to_the_projects_list(client, auth, project, manager, member):
    other = db.session.scalar(db.select(Membership).filter_by(user_id=member.id))
    own = db.session.scalar(db.select(Membership).filter_by(user_id=manager.id))
    auth.login()
    assert _post(client, f"/projects/{project.id}/members/{other.id}/role", {"role": "ProjectManager"}).status_code == 303
    response = _post(client, f"/projects/{project.id}/members/{own.id}/remove", {})
    assert response.status_code == 303 and response.headers["Location"].endswith("/projects/")
    assert client.get(f"/projects/{project.id}/").status_code == 404
