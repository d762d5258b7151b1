from tests.conftest import add_user, csrf_token_from


def test_login_page_has_fields_and_csrf(client):
    page = client.get("/login")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="email"' in html and 'name="password"' in html
    assert csrf_token_from(html)


def test_login_and_logout(client, auth, manager):
    response = auth.login()
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/projects/")
    assert client.get("/projects/").status_code == 200
    response = auth.logout()
    assert response.status_code == 302
    assert client.get("/projects/").status_code == 302


def test_wrong_password_shows_error(client, auth, manager):
    response = auth.login(password="nope")
    assert response.status_code == 400
    assert "Email or password is not correct." in response.get_data(as_text=True)
    assert client.get("/projects/").status_code == 302


def test_login_requires_csrf_token(client, manager):
    response = client.post("/login", data={"email": "manager@example.org", "password": "pw-manager"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert client.get("/projects/").status_code == 302


def test_login_redirects_only_within_the_site(client, manager):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    data = {"email": "manager@example.org", "password": "pw-manager", "csrf_token": token}
    response = client.post("/login?next=https://evil.example/x", data=data)
    assert response.headers["Location"] == "/projects/"


def test_pages_need_sign_in(client):
    response = client.get("/projects/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_passwords_are_hashed(app):
    user = add_user("someone@example.org", "secret-pw")
    assert "secret-pw" not in user.password_hash
    assert user.check_password("secret-pw") and not user.check_password("other")
