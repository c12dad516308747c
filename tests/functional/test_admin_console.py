"""The admin console: who gets in, each page, field errors, versions, audit events.

Each page is driven the way a browser does it: GET the page, POST its form with
the CSRF token it carries, follow the redirect.
"""

from __future__ import annotations

import csv
import io
import re

import pyotp
import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models import AuditEvent, Client, Group, LoginSession, Organization, User
from idp.services import factors

from ..helpers import PASSWORD, OAuthClient, Tokens, csrf_token


@pytest.fixture
def console(client, make_user) -> Console:
    admin = make_user("root", admin=True)
    browser = OAuthClient(client)
    assert browser.login("root", PASSWORD).status_code == 303
    return Console(client, admin.id)


class Console:
    def __init__(self, http, admin_id: str) -> None:
        self.http, self.admin_id = http, admin_id

    def page(self, path: str, status: int = 200) -> str:
        response = self.http.get(path)
        assert response.status_code == status, (response.status_code, response.get_data(True))
        return response.get_data(True)

    def post(self, path: str, status: int = 303, page: str | None = None, **fields):
        token = csrf_token(self.page(page or "/admin/keys"))
        response = self.http.post(path, data={"csrf_token": token, **fields})
        assert response.status_code == status, (response.status_code, response.get_data(True))
        return response


def events(app, tag: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.tag == tag)))


def field_error(html: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="e-{re.escape(name)}">([^<]+)</p>', html)
    assert found, f"no error next to {name}"
    return found.group(1)


# -- who gets in -----------------------------------------------------------------------------


def test_signed_out_goes_to_login_and_back(client):
    answer = client.get("/admin/users?q=x")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=/admin/users")


def test_a_user_without_the_flag_gets_403_everywhere(client, make_user, app):
    make_user("plain")
    assert OAuthClient(client).login("plain", PASSWORD).status_code == 303
    for path in ("/admin", "/admin/users", "/admin/clients", "/admin/audit", "/admin/keys"):
        answer = client.get(path)
        assert answer.status_code == 403
        assert "for administrators" in answer.get_data(True)
    token = csrf_token(client.get("/account").get_data(True))
    assert client.post("/admin/keys", data={"csrf_token": token,
                                            "alg": "RS256"}).status_code == 403


def test_an_old_sign_in_is_asked_again(clock, console):
    clock.advance(3601)
    answer = console.http.get("/admin/users")
    assert answer.status_code == 302
    assert "reason=fresh" in answer.headers["Location"]


def test_an_admin_with_a_second_factor_proves_it_first(clock, console, app):
    with app.app_context():  # enrolled elsewhere after this session signed in (acr 1)
        user = db.session.get(User, console.admin_id)
        enrolment = factors.start_totp(user)
        factors.confirm_totp(user, pyotp.TOTP(enrolment.secret).at(int(clock.at)))
        db.session.commit()
    answer = console.http.get("/admin/clients")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login/mfa?next=/admin/clients")


def test_forms_need_the_csrf_token(console):
    assert console.http.post("/admin/keys", data={"alg": "RS256"}).status_code == 400


# -- dashboard and users ---------------------------------------------------------------------


def test_dashboard_counts_and_draws_the_day(console, client, make_user):
    make_user("bob")
    OAuthClient(client).login("bob", "wrong password")
    html = console.page("/admin")
    assert "<strong>2</strong> users" in html
    assert "<svg" in html
    assert 'class="bad"' in html
    assert re.search(r"1 failed attempts", html)
    assert "login.failure" in html  # recent events


def test_users_are_searched_paged_created_and_edited(console, app, make_user):
    for n in range(30):
        make_user(f"user{n:02}", given_name="Pat" if n == 7 else None)
    html = console.page("/admin/users")
    assert "Page 1 of 2" in html
    assert "user26" in console.page("/admin/users?page=2")
    found = console.page("/admin/users?q=pat")
    assert "user07" in found
    assert "user08" not in found

    bad = console.post("/admin/users/new", status=400, username="has space",
                       email="new@example.com", password="long enough password")
    assert "letters, digits" in field_error(bad.get_data(True), "username")
    made = console.post("/admin/users/new", username="newbie", email="New@Example.com",
                        password="long enough password")
    user_path = made.headers["Location"].split("?")[0]
    [created] = events(app, "user.created")[-1:]
    assert created.details["actor"] == console.admin_id

    page = console.page(user_path)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    form = {"version": version, "username": "newbie", "email": "new@example.com",
            "given_name": "New", "family_name": "Bie", "picture": "", "locale": "de-CH",
            "public_metadata": '{"plan": "pro"}', "private_metadata": "{}",
            "unsafe_metadata": "{}"}
    invalid = console.post(user_path, status=400, page=user_path,
                           **{**form, "public_metadata": "[1, 2"})
    assert "not JSON" in field_error(invalid.get_data(True), "public_metadata")
    not_object = console.post(user_path, status=400, page=user_path,
                              **{**form, "private_metadata": "[1]"})
    assert "JSON object" in field_error(not_object.get_data(True), "private_metadata")
    console.post(user_path, page=user_path, **form)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "newbie"))
        assert (user.given_name, user.locale, user.public_metadata) == ("New", "de-CH",
                                                                         {"plan": "pro"})
    stale = console.post(user_path, status=409, page=user_path, **{**form, "given_name": "X"})
    assert "changed meanwhile" in stale.get_data(True)


def test_disable_set_password_reset_and_delete_a_user(console, app, client, make_user):
    make_user("dana")
    with app.app_context():
        dana = db.session.scalar(select(User).where(User.username == "dana"))
    path = f"/admin/users/{dana.id}"
    console.post(f"{path}/status", page=path, action="disable")
    with app.app_context():
        assert db.session.get(User, dana.id).disabled
    assert events(app, "user.disabled")[0].details["actor"] == console.admin_id
    console.post(f"{path}/status", page=path, action="enable")

    short = console.post(f"{path}/password", status=400, page=path, password="short")
    assert "at least" in field_error(short.get_data(True), "password")
    console.post(f"{path}/password", page=path, password="a brand new password")
    assert OAuthClient(app.test_client()).login("dana", "a brand new password").status_code \
        == 303
    with app.app_context():
        [session] = db.session.scalars(select(LoginSession).where(
            LoginSession.user_id == dana.id, LoginSession.ended_at.is_(None)))
    console.post(f"{path}/sessions/{session.sid}/end", page=path)
    with app.app_context():
        assert db.session.get(LoginSession, session.sid).ended_at is not None

    confirm = console.page(f"{path}/delete")
    assert "cannot be undone" in confirm
    assert "second factor" in confirm
    console.post(f"{path}/delete", page=path)
    with app.app_context():
        assert db.session.get(User, dana.id) is None
    assert events(app, "user.deleted")[0].details["actor"] == console.admin_id


def test_an_admin_cannot_disable_themselves_or_drop_the_last_flag(console, app):
    path = f"/admin/users/{console.admin_id}"
    refused = console.post(f"{path}/status", status=409, page=path, action="disable")
    assert "cannot disable yourself" in refused.get_data(True)
    last = console.post(f"{path}/status", status=409, page=path, action="revoke-admin")
    assert "last administrator" in last.get_data(True)
    with app.app_context():
        me = db.session.get(User, console.admin_id)
        assert me.admin
        assert not me.disabled


# -- organizations ---------------------------------------------------------------------------


def test_organizations_members_groups_and_a_refused_delete(console, app, make_user,
                                                           make_client):
    make_user("erin")
    bad = console.post("/admin/orgs", status=400, page="/admin/orgs", slug="Bad Slug",
                       name="X")
    assert "lowercase" in field_error(bad.get_data(True), "slug")
    console.post("/admin/orgs", page="/admin/orgs", slug="north", name="North")
    path = "/admin/orgs/north"
    html = console.page(path)
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    console.post(path, page=path, version=version, name="North Ltd", require_mfa="on")
    console.post(f"{path}/members", page=path, username="erin", role="admin")
    nobody = console.post(f"{path}/members", status=400, page=path, username="ghost")
    assert "No user" in field_error(nobody.get_data(True), "member")
    console.post(f"{path}/groups", page=path, name="eng")
    with app.app_context():
        org = db.session.scalar(select(Organization).where(Organization.slug == "north"))
        assert (org.name, org.require_mfa) == ("North Ltd", True)
        group_id = db.session.scalar(select(Group.id))
        erin = db.session.scalar(select(User).where(User.username == "erin"))
    console.post(f"{path}/groups/{group_id}", page=path, action="add", username="erin")
    console.post(f"{path}/groups/{group_id}", page=path, action="rename", name="engineering")
    assert "engineering" in console.page(path)
    console.post(f"{path}/groups/{group_id}/members/{erin.id}/remove", page=path)
    console.post(f"{path}/members/{erin.id}/remove", page=path)

    make_client("bound", org="north")
    blocked = console.page(f"{path}/delete", status=409)
    assert "bound to this organization (bound)" in blocked
    console.post(f"{path}/delete", status=409, page=path)
    with app.app_context():
        db.session.delete(db.session.get(Client, "bound"))
        db.session.commit()
    console.post(f"{path}/delete", page=path)
    assert [e.details["actor"] for e in events(app, "org.deleted")] == [console.admin_id]


# -- clients ---------------------------------------------------------------------------------


CLIENT_FORM = {"name": "Wiki", "client_id": "wiki", "redirect_uris": "https://wiki.example/cb",
               "post_logout_redirect_uris": "", "grant_types": ["authorization_code",
                                                                "client_credentials"],
               "scope": "openid profile", "apis": "", "default_api": "",
               "auth_method": "client_secret_basic", "access_token_ttl": "300",
               "refresh_token_ttl": "86400", "max_groups_in_id_token": "100",
               "id_token_alg": "RS256", "access_token_alg": "Ed25519",
               "token_profile": "rfc9068", "org": "", "logo_uri": "", "tos_uri": "",
               "policy_uri": "https://wiki.example/privacy"}


def test_clients_are_created_edited_rotated_disabled_and_deleted(console, app, client):
    bad = console.post("/admin/clients/new", status=400, page="/admin/clients/new",
                       **{**CLIENT_FORM, "redirect_uris": "http://evil.example/cb"})
    assert field_error(bad.get_data(True), "redirect_uris")
    ttl = console.post("/admin/clients/new", status=400, page="/admin/clients/new",
                       **{**CLIENT_FORM, "access_token_ttl": "soon"})
    assert "whole number" in field_error(ttl.get_data(True), "access_token_ttl")

    made = console.post("/admin/clients/new", page="/admin/clients/new", **CLIENT_FORM)
    assert made.headers["Location"] == "/admin/clients/wiki"
    secret = re.search(r'<code id="client-secret">([^<]+)</code>',
                       console.page("/admin/clients/wiki")).group(1)
    tokens = Tokens(client)
    tokens.ok({"grant_type": "client_credentials"}, "wiki", secret)
    assert "client-secret" not in console.page("/admin/clients/wiki")  # shown once only

    path = "/admin/clients/wiki"
    console.post(path, page=path, version="1", **{**CLIENT_FORM, "access_token_ttl": "120"})
    assert tokens.ok({"grant_type": "client_credentials"}, "wiki", secret)["expires_in"] == 120
    stale = console.post(path, status=409, page=path, version="1", **CLIENT_FORM)
    assert "changed meanwhile" in stale.get_data(True)

    console.post(f"{path}/secret", page=path)  # to the page, so a reload repeats nothing
    new_secret = re.search(r'<code id="client-secret">([^<]+)</code>',
                           console.page(path)).group(1)
    assert tokens.post({"grant_type": "client_credentials"}, "wiki", secret).status_code == 401
    tokens.ok({"grant_type": "client_credentials"}, "wiki", new_secret)

    console.post(f"{path}/status", page=path, action="disable")
    assert tokens.post({"grant_type": "client_credentials"}, "wiki",
                       new_secret).status_code == 401
    assert "cannot be undone" in console.page(f"{path}/delete")
    console.post(f"{path}/delete", page=path)
    with app.app_context():
        assert db.session.get(Client, "wiki") is None
    for tag in ("client.created", "client.updated", "client.secret_rotated", "client.disabled",
                "client.deleted"):
        assert [e.details["actor"] for e in events(app, tag)] == [console.admin_id], tag


# -- APIs, upstreams, keys, audit ------------------------------------------------------------


def test_apis_roles_upstreams_and_keys(console, app, make_user):
    make_user("fay")
    console.post("/admin/apis", page="/admin/apis", identifier="https://orders.example",
                 name="Orders", scope="orders:read", access_token_alg="RS256",
                 access_token_ttl="300")
    assert re.search(r'<code id="api-secret">[^<]+</code>', console.page("/admin/apis"))
    bad = console.post("/admin/apis", status=400, page="/admin/apis", identifier="not a uri",
                       name="X", scope="", access_token_alg="RS256", access_token_ttl="300")
    assert "API identifier" in field_error(bad.get_data(True), "identifier")
    console.post("/admin/roles", page="/admin/apis", name="clerk", permissions="orders:read",
                 api="https://orders.example", description="")
    with app.app_context():
        from idp.services import apis

        role = apis.find_role("clerk", "https://orders.example")
    console.post(f"/admin/roles/{role.id}/assign", page="/admin/apis", username="fay")
    with app.app_context():
        fay = db.session.scalar(select(User).where(User.username == "fay"))
        assert [r.name for r in apis.every_role_of(fay.id)] == ["clerk"]

    console.post("/admin/upstreams", page="/admin/upstreams", id="corp", name="Corp SSO",
                 issuer="https://sso.example", client_id="idp", client_secret="s3cret")
    page = console.page("/admin/upstreams")
    assert "Corp SSO" in page
    assert "/upstream/corp/callback" in page
    console.post("/admin/upstreams/corp/delete", page="/admin/upstreams")

    keys_page = console.page("/admin/keys")
    assert keys_page.count(">current<") == 3
    console.post("/admin/keys", page="/admin/keys", alg="RS256")
    keys_page = console.page("/admin/keys")
    kid = re.search(r"<code>([^<]+)</code></td><td>RS256</td><td>[^<]*<time[^>]*>[^<]*</time>"
                    r"</td><td>published", keys_page)
    assert kid
    console.post(f"/admin/keys/{kid.group(1)}/withdraw", page="/admin/keys")
    assert events(app, "key.withdrawn")[0].details["actor"] == console.admin_id
    for tag in ("api.created", "role.created", "role.assigned", "upstream.created",
                "upstream.deleted", "key.rotated"):
        assert events(app, tag)[0].details["actor"] == console.admin_id, tag


def test_audit_log_filters_pages_and_exports(console, client, make_user):
    make_user("gus")
    for _ in range(3):
        OAuthClient(client).login("gus", "wrong password")
    OAuthClient(client).login("root", PASSWORD)
    html = console.page("/admin/audit?tag=login.failure&user=gus")
    assert html.count("<code>login.failure</code>") == 3
    assert "login.success" not in html
    family = console.page("/admin/audit?tag=login.*")
    assert "login.success" in family
    assert "login.failure" in family
    assert "No events" in console.page("/admin/audit?since=2999-01-01T00:00")
    assert "not a date" in console.page("/admin/audit?since=yesterday", status=400)

    exported = console.http.get("/admin/audit?tag=login.failure&format=csv")
    assert exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.get_data(True))))
    assert [r["tag"] for r in rows] == ["login.failure"] * 3
    lines = console.http.get("/admin/audit?tag=login.failure&format=jsonl").get_data(True)
    assert len(lines.splitlines()) == 3


def test_the_consent_page_shows_the_clients_logo_and_links(app, client, make_user):
    from idp.services import clients

    make_user("ivy")
    with app.app_context():
        clients.create_client("Wiki", client_id="wiki", redirect_uris=["https://wiki.example/cb"],
                              logo_uri="https://wiki.example/logo.png",
                              policy_uri="https://wiki.example/privacy",
                              tos_uri="https://wiki.example/terms")
        db.session.commit()
    browser = OAuthClient(client)
    browser.login("ivy", PASSWORD)
    answer = browser.authorize(client_id="wiki", redirect_uri="https://wiki.example/cb",
                               response_type="code", scope="openid", state="s",
                               code_challenge="x" * 43, code_challenge_method="S256")
    page = client.get(answer.headers["Location"])
    html = page.get_data(True)
    assert 'src="https://wiki.example/logo.png"' in html
    assert 'href="https://wiki.example/privacy"' in html
    assert 'href="https://wiki.example/terms"' in html
    assert "img-src 'self' data: https:" in page.headers["Content-Security-Policy"]


# -- what a first review found -------------------------------------------------------------


def test_empty_fields_stay_empty_and_a_side_form_never_refills_the_profile(console, app,
                                                                          make_user):
    user = make_user("lee", given_name="Lee")  # no family name, picture or language
    path = f"/admin/users/{user.id}"
    page = console.page(path)
    assert 'value="None"' not in page
    refused = console.post(f"{path}/password", status=400, page=path, password="short")
    html = refused.get_data(True)
    assert 'value="lee"' in html  # the stored profile, not the password form's fields
    assert 'name="version" value="1"' in html
    assert 'value="None"' not in html


def test_a_refused_group_leaves_the_organization_form_alone(console, app):
    console.post("/admin/orgs", page="/admin/orgs", slug="east", name="East",
                 require_mfa="on")
    path = "/admin/orgs/east"
    console.post(f"{path}/groups", page=path, name="sales")
    again = console.post(f"{path}/groups", status=400, page=path, name="sales").get_data(True)
    assert 'value="East"' in again
    assert 'name="require_mfa" value="on" checked' in again


def test_search_takes_percent_and_underscore_literally(console, make_user):
    make_user("user_1")
    make_user("userx1")
    assert "userx1" not in console.page("/admin/users?q=user_1")
    assert "userx1" not in console.page("/admin/users?q=%25")


def test_a_page_past_the_end_is_the_last(console):
    assert "Page 99" not in console.page("/admin/users?page=99")


def test_an_admin_is_not_offered_to_delete_themselves(console):
    page = console.page(f"/admin/users/{console.admin_id}/delete", status=409)
    assert "cannot delete yourself" in page
    assert ">Delete</button>" not in page


def test_audit_times_honour_an_offset(console, clock):
    import datetime

    moment = datetime.datetime.fromtimestamp(clock.at, datetime.UTC)
    ahead = (moment + datetime.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M") + "+05:00"
    assert "login.success" in console.page(
        "/admin/audit?since=" + ahead.replace("+", "%2B").replace(":", "%3A"))
