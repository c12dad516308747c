"""Second factors: authenticator apps, passkeys, recovery codes, step-up, policies.

The clock is stopped (``clock``) so TOTP codes are computed by ``pyotp`` at chosen
times; passkeys are played by a software authenticator (``tests.authenticator``)
that signs what a real one would. Every token a test gets is verified.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pyotp
import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models import AuditEvent, LoginSession, Passkey, RecoveryCode, TotpFactor, User
from idp.security import sealing

from ..authenticator import Authenticator, b64, unb64
from ..helpers import (
    ISSUER,
    PASSWORD,
    REDIRECT_URI,
    OAuthClient,
    assert_json_error,
    authorize_params,
    csrf_token,
    location_params,
    verify_jwt,
)

SECRET_RE = re.compile(r'<code class="secret">([A-Z2-7 ]+)</code>')
CODES_RE = re.compile(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>")
META_CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture
def bob(make_user):
    return make_user("bob")


class Person:
    """Someone at a browser (a test client of their own), with their phone and passkeys."""

    def __init__(self, app, username: str = "alice") -> None:
        self.app = app
        self.http = app.test_client()
        self.oauth = OAuthClient(self.http)
        self.username = username
        self.secret: str | None = None
        self.codes: list[str] = []

    # -- signing in --------------------------------------------------------------------

    def password(self, at: str = "/login", password: str = PASSWORD):
        return self.oauth.login(self.username, password, at=at)

    def code_page(self, location: str):
        page = self.http.get(location)
        assert page.status_code == 200, page.get_data(True)
        return page

    def submit_code(self, code: str, at: str = "/login/mfa"):
        page = self.code_page(at)
        return self.http.post(at, data={"code": code, "csrf_token": csrf_token(page.get_data(
            True))})

    def totp(self, clock, offset_steps: int = 0) -> str:
        assert self.secret
        return pyotp.TOTP(self.secret).at(int(clock.at) + 30 * offset_steps)

    def sign_in_with_totp(self, clock):
        signed = self.password()
        assert signed.status_code == 303
        assert urlsplit(signed.headers["Location"]).path == "/login/mfa"
        return self.submit_code(self.totp(clock), at=signed.headers["Location"])

    # -- JSON ceremonies ---------------------------------------------------------------

    def csrf(self, page_path: str) -> str:
        page = self.http.get(page_path)
        assert page.status_code == 200, page.get_data(True)
        match = META_CSRF_RE.search(page.get_data(True))
        assert match, "the page has no CSRF meta tag"
        return match.group(1)

    def json(self, url: str, body: object, token: str):
        return self.http.post(url, data=json.dumps(body), content_type="application/json",
                              headers={"X-CSRFToken": token, "Accept": "application/json"})

    def options(self, url: str, token: str) -> dict:
        joined = url + ("&" if "?" in url else "?") + "options"
        response = self.json(joined, {}, token)
        assert response.status_code == 200, response.get_data(True)
        assert response.headers["Cache-Control"] == "no-store"
        return response.get_json()

    def register(self, key: Authenticator, name: str = "Laptop", at: str = "/account/mfa"):
        token = self.csrf(at)
        url = "/account/mfa/passkeys" + (at[len("/account/mfa"):] if "?" in at else "")
        options = self.options(url, token)
        return self.json(url, {"credential": key.create(options), "name": name}, token)

    def use_passkey(self, key: Authenticator, page: str, url: str, **get):
        token = self.csrf(page)
        options = self.options(url, token)
        return self.json(url, {"credential": key.get(options, **get)}, token)

    # -- the account page --------------------------------------------------------------

    def press(self, action: str, page: str = "/account/mfa", **fields):
        html = self.http.get(page).get_data(True)
        return self.http.post(action, data={"csrf_token": csrf_token(html), **fields})

    def enrol_totp(self, clock, at: str = "/account/mfa"):
        started = self.press("/account/mfa/totp" + _query(at), page=at)
        assert started.status_code == 303, started.get_data(True)
        page = self.http.get(started.headers["Location"]).get_data(True)
        assert "<svg" in page  # the QR code, made here
        self.secret = SECRET_RE.search(page).group(1).replace(" ", "")
        assert pyotp.TOTP(self.secret).provisioning_uri()  # a valid base32 secret
        confirmed = self.press("/account/mfa/totp/confirm" + _query(at), page=at,
                               code=self.totp(clock))
        assert confirmed.status_code == 303, confirmed.get_data(True)
        shown = self.http.get(confirmed.headers["Location"]).get_data(True)
        self.codes = CODES_RE.findall(shown)
        return shown

    def session_row(self) -> LoginSession:
        with self.app.app_context():
            user = db.session.scalar(select(User).where(User.username == self.username))
            return db.session.scalars(select(LoginSession).where(
                LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
                .order_by(LoginSession.created_at.desc())).first()


def _query(url: str) -> str:
    return "?" + urlsplit(url).query if urlsplit(url).query else ""


def user_row(app, username: str = "alice") -> User:
    with app.app_context():
        return db.session.scalar(select(User).where(User.username == username))


def tags(app, user_id: str) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.tag).where(
            AuditEvent.user_id == user_id).order_by(AuditEvent.id)))


def id_token_of(person: Person, answer, client_id: str = "web", secret: str | None = None):
    """Redeem the code in a redirect to the client; the verified ID token's claims."""
    code = location_params(answer)["code"]
    tokens = person.oauth.exchange(code, client_id, secret, redirect_uri=REDIRECT_URI)
    assert tokens.status_code == 200, tokens.get_data(True)
    body = tokens.get_json()
    _, claims = verify_jwt(body["id_token"], person.oauth.jwks(), "RS256", iss=ISSUER,
                           aud=client_id)
    return claims


@pytest.fixture
def person(app, alice):
    return Person(app)


@pytest.fixture
def web_app(make_client):
    return make_client("web", skip_consent=True)


# -- authenticator apps ----------------------------------------------------------------------


def test_an_authenticator_app_counts_once_its_first_code_confirmed_it(person, clock, app):
    assert person.password().headers["Location"] == "/"  # signed in: no factor yet
    started = person.press("/account/mfa/totp")
    page = person.http.get(started.headers["Location"]).get_data(True)
    secret = SECRET_RE.search(page).group(1).replace(" ", "")
    assert 'autocomplete="one-time-code"' in page
    # Not yet a factor: a new sign-in needs the password only.
    other = Person(app)
    assert other.password().headers["Location"] == "/"

    wrong = person.press("/account/mfa/totp/confirm", code="000000")
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.get_data(True)
    right = person.press("/account/mfa/totp/confirm", code=pyotp.TOTP(secret).at(clock.at))
    assert right.status_code == 303
    assert right.headers["Location"] == "/account/mfa?done=totp"
    shown = person.http.get(right.headers["Location"]).get_data(True)
    assert "Your authenticator app is set up." in shown
    assert len(CODES_RE.findall(shown)) == 10  # the first factor brings recovery codes

    third = Person(app)
    assert urlsplit(third.password().headers["Location"]).path == "/login/mfa"
    assert "mfa.totp_added" in tags(app, user_row(app).id)


def test_the_secret_is_sealed_at_rest_with_a_key_from_the_configuration(person, clock, app,
                                                                         make_app):
    person.password()
    person.enrol_totp(clock)
    with app.app_context():
        row = db.session.scalar(select(TotpFactor))
        assert person.secret not in row.sealed_secret
        assert sealing.unseal("totp secret", row.sealed_secret) == person.secret
        sealed = row.sealed_secret
    other = make_app(SECRET_KEY="another-secret-key")
    with other.app_context(), pytest.raises(sealing.Unsealable):
        sealing.unseal("totp secret", sealed)


def test_sign_in_with_an_authenticator_app(person, clock, app):
    person.password()
    person.enrol_totp(clock)
    person.http.post("/logout", data={"csrf_token": csrf_token(
        person.http.get("/logout").get_data(True))})

    signed = person.password()
    assert signed.status_code == 303
    assert signed.headers["Location"] == "/login/mfa"
    # Half signed in: the password alone opens nothing.
    assert person.http.get("/account").status_code == 302
    page = person.http.get("/login/mfa").get_data(True)
    assert 'name="code"' in page
    assert "Signing in as alice" in page

    clock.advance(30)
    done = person.submit_code(person.totp(clock))
    assert done.status_code == 303, done.get_data(True)
    assert done.headers["Location"] == "/"
    assert person.http.get("/account").status_code == 200
    session = person.session_row()
    assert session.amr == ["pwd", "otp", "mfa"]
    assert session.acr == "2"


def test_codes_one_step_either_way_are_accepted_but_not_two(person, clock, app):
    person.password()
    person.enrol_totp(clock)
    for offset, accepted in ((-2, False), (2, False), (-1, True)):
        clock.advance(90)  # past every step used so far
        fresh = Person(app)
        fresh.secret = person.secret
        fresh.password()
        answer = fresh.submit_code(fresh.totp(clock, offset))
        assert (answer.status_code == 303) is accepted, (offset, answer.status_code)
    clock.advance(90)
    fresh = Person(app)
    fresh.secret = person.secret
    fresh.password()
    assert fresh.submit_code(fresh.totp(clock, 1)).status_code == 303


def test_a_code_is_good_once(person, clock, app):
    person.password()
    person.enrol_totp(clock)
    clock.advance(30)
    code = person.totp(clock)
    first, second = Person(app), Person(app)
    first.password()
    second.password()
    assert first.submit_code(code).status_code == 303
    replay = second.submit_code(code)
    assert replay.status_code == 401
    assert "each works once" in replay.get_data(True)
    # Nor an older one, once a newer step was used.
    clock.advance(30)
    newer, older = person.totp(clock), person.totp(clock, -1)  # older: the step of ``code``
    third = Person(app)
    third.password()
    assert third.submit_code(newer).status_code == 303
    fourth = Person(app)
    fourth.password()
    assert fourth.submit_code(older).status_code == 401
    assert "login.second_factor_failed" in tags(app, user_row(app).id)


FULLWIDTH_DIGITS = "\uff11\uff12\uff13\uff14\uff15\uff16"  # look like 123456


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", FULLWIDTH_DIGITS, "12 34 5",
                                  "x" * 64, "x" * 65, "1" * 1000, "\x00" * 6, "' OR 1=1 --"])
def test_malformed_codes_get_a_clear_answer(person, clock, code):
    person.password()
    person.enrol_totp(clock)
    fresh = Person(person.app)
    fresh.password()
    answer = fresh.submit_code(code)
    assert answer.status_code in (400, 401), answer.status_code
    assert "text/html" in answer.content_type
    assert 'role="alert"' in answer.get_data(True) or "field-error" in answer.get_data(True)
    assert "Traceback" not in answer.get_data(True)
    assert fresh.http.get("/account").status_code == 302  # still not signed in


def test_failed_codes_are_rate_limited_like_passwords(make_app, clock):
    app = make_app(RATE_LIMIT_LOGIN_ACCOUNT="3/minute")
    with app.app_context():
        from idp.services import accounts

        accounts.create_user("alice", "alice@example.com", PASSWORD)
        db.session.commit()
    person = Person(app)
    person.password()
    person.enrol_totp(clock)
    guesser = Person(app)
    guesser.password()
    guesser.secret = person.secret
    wrong = "000000" if guesser.totp(clock) != "000000" else "111111"
    statuses = [guesser.submit_code(wrong).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert guesser.submit_code(guesser.totp(clock, 1)).status_code == 429  # even a right one


# -- recovery codes --------------------------------------------------------------------------


def test_recovery_codes_are_shown_once_kept_as_digests_and_each_works_once(person, clock, app):
    person.password()
    person.enrol_totp(clock)
    assert len(person.codes) == 10
    assert len(set(person.codes)) == 10
    again = person.http.get("/account/mfa").get_data(True)
    assert CODES_RE.findall(again) == []  # shown once
    assert "10 of 10 left" in again
    with app.app_context():
        digests = set(db.session.scalars(select(RecoveryCode.digest)))
    assert len(digests) == 10
    assert not any(code.replace("-", "") in digest or code in digest
                   for code in person.codes for digest in digests)

    code = person.codes[3]
    first = Person(app)
    first.password()
    done = first.submit_code(code.upper().replace("-", " "))  # as typed from paper
    assert done.status_code == 303, done.get_data(True)
    assert first.session_row().amr == ["pwd", "otp", "mfa"]
    second = Person(app)
    second.password()
    assert second.submit_code(code).status_code == 401
    assert "9 of 10 left" in first.http.get("/account/mfa").get_data(True)
    assert "mfa.recovery_code_used" in tags(app, user_row(app).id)


def test_new_recovery_codes_void_the_old_ones_after_a_fresh_sign_in(person, clock, app):
    person.password()
    person.enrol_totp(clock)
    old = person.codes
    clock.advance(601)  # past IDP_REAUTH_SECONDS
    stale = person.press("/account/mfa/recovery-codes")
    assert stale.status_code == 303
    assert stale.headers["Location"] == "/login?next=/account/mfa&reason=fresh"
    page = person.http.get(stale.headers["Location"]).get_data(True)
    assert "sign in again first" in page
    signed = person.password(at=stale.headers["Location"])
    assert signed.headers["Location"] == "/login/mfa?next=/account/mfa"
    back = person.submit_code(person.totp(clock), at=signed.headers["Location"])
    assert back.headers["Location"] == "/account/mfa"

    made = person.press("/account/mfa/recovery-codes")
    assert made.status_code == 303
    shown = person.http.get(made.headers["Location"]).get_data(True)
    new = CODES_RE.findall(shown)
    assert len(new) == 10
    assert not set(new) & set(old)
    fresh = Person(app)
    fresh.password()
    assert fresh.submit_code(old[0]).status_code == 401
    assert fresh.submit_code(new[0]).status_code == 303
    assert "mfa.recovery_codes_made" in tags(app, user_row(app).id)


# -- passkeys --------------------------------------------------------------------------------


def test_register_name_rename_and_remove_passkeys(person, app):
    person.password()
    laptop, key = Authenticator(ISSUER), Authenticator(ISSUER)
    registered = person.register(laptop, "  My   laptop ")
    assert registered.status_code == 200, registered.get_data(True)
    assert registered.get_json() == {"location": "/account/mfa?done=passkey"}
    assert person.register(key, "Security key").status_code == 200
    with app.app_context():
        rows = db.session.scalars(select(Passkey).order_by(Passkey.created_at)).all()
        assert [r.name for r in rows] == ["My laptop", "Security key"]
        assert rows[0].credential_id == laptop.id
        assert rows[0].transports == ["internal", "hybrid"]
        first = rows[0].id
    page = person.http.get("/account/mfa").get_data(True)
    assert "My laptop" in page
    assert "Security key" in page

    renamed = person.press(f"/account/mfa/passkeys/{first}/rename", name="Work laptop")
    assert renamed.status_code == 303
    assert "Work laptop" in person.http.get("/account/mfa").get_data(True)
    assert person.press(f"/account/mfa/passkeys/{first}/rename", name="").status_code == 400
    removed = person.press(f"/account/mfa/passkeys/{first}/remove")
    assert removed.status_code == 303
    with app.app_context():
        assert [r.name for r in db.session.scalars(select(Passkey))] == ["Security key"]
    assert {"mfa.passkey_added", "mfa.passkey_renamed", "mfa.passkey_removed"} <= set(
        tags(app, user_row(app).id))


def test_the_same_passkey_cannot_be_registered_twice(person):
    person.password()
    key = Authenticator(ISSUER)
    assert person.register(key).status_code == 200
    again = person.register(key)
    assert again.status_code == 400
    assert again.get_json()["error"] == "invalid_request"


def test_a_passkey_as_the_second_factor(person, app, web_app):
    person.password()
    key = Authenticator(ISSUER, verifies_user=False)
    person.register(key)
    fresh = Person(app)
    answer = fresh.oauth.authorize(**authorize_params())
    login = answer.headers["Location"]
    signed = fresh.password(at=login)
    mfa = signed.headers["Location"]
    assert urlsplit(mfa).path == "/login/mfa"
    page = fresh.http.get(mfa).get_data(True)
    assert "Use a passkey" in page
    assert 'name="code"' in page  # recovery codes
    url = "/login/mfa/passkey?" + urlsplit(mfa).query
    used = fresh.use_passkey(key, mfa, url)
    assert used.status_code == 200, used.get_data(True)
    resumed = fresh.http.get(used.get_json()["location"])
    claims = id_token_of(fresh, resumed, "web", web_app.client_secret)
    assert claims["acr"] == "2"
    assert claims["amr"] == ["pwd", "hwk", "mfa"]


def test_sign_in_with_a_passkey_alone(person, app, web_app):
    person.password()
    synced = Authenticator(ISSUER, synced=True)
    person.register(synced)
    fresh = Person(app)
    answer = fresh.oauth.authorize(**authorize_params(acr_values="2"))
    login = answer.headers["Location"]
    assert "Sign in with a passkey" in fresh.http.get(login).get_data(True)
    used = fresh.use_passkey(synced, login, "/login/passkey?" + urlsplit(login).query)
    assert used.status_code == 200, used.get_data(True)
    resumed = fresh.http.get(used.get_json()["location"])
    claims = id_token_of(fresh, resumed, "web", web_app.client_secret)
    assert claims["acr"] == "2"
    assert claims["amr"] == ["swk", "user", "mfa"]
    assert claims["sub"] == user_row(app).id


def test_a_passkey_alone_must_verify_the_user(person, app):
    person.password()
    key = Authenticator(ISSUER, verifies_user=False)
    person.register(key)
    fresh = Person(app)
    refused = fresh.use_passkey(key, "/login", "/login/passkey")
    assert_json_error(refused, 400, "invalid_request")
    assert "verif" in refused.get_json()["error_description"].lower()
    assert fresh.http.get("/account").status_code == 302


def test_an_assertion_for_another_origin_or_relying_party_is_refused(person, app):
    person.password()
    key = Authenticator(ISSUER)
    person.register(key)
    for changed in ({"origin": "https://evil.example"}, {"rp_id": "evil.example"}):
        fresh = Person(app)
        refused = fresh.use_passkey(key, "/login", "/login/passkey", **changed)
        assert_json_error(refused, 400, "invalid_request")
        assert fresh.http.get("/account").status_code == 302


def test_a_replayed_or_forged_assertion_is_refused(person, app):
    person.password()
    key = Authenticator(ISSUER)
    person.register(key)
    fresh = Person(app)
    token = fresh.csrf("/login")
    options = fresh.options("/login/passkey", token)
    assertion = key.get(options)
    assert fresh.json("/login/passkey", {"credential": assertion}, token).status_code == 200
    # The same answer again: its challenge was used up.
    again = Person(app)
    token = again.csrf("/login")
    again.options("/login/passkey", token)
    assert_json_error(again.json("/login/passkey", {"credential": assertion}, token), 400,
                      "invalid_request")
    # A fresh challenge, but an old counter (a cloned authenticator).
    key.sign_count = 0
    cloned = Person(app)
    assert_json_error(cloned.use_passkey(key, "/login", "/login/passkey"), 400,
                      "invalid_request")
    # A signature that is not the key's.
    forger = Person(app)
    token = forger.csrf("/login")
    forged = key.get(forger.options("/login/passkey", token))
    signature = bytearray(unb64(forged["response"]["signature"]))
    signature[-1] ^= 1
    forged["response"]["signature"] = b64(bytes(signature))
    assert_json_error(forger.json("/login/passkey", {"credential": forged}, token), 400,
                      "invalid_request")
    assert forger.http.get("/account").status_code == 302


def test_another_users_passkey_is_not_a_second_factor(person, app, bob):
    person.password()
    person.register(Authenticator(ISSUER))
    bobs = Person(app, "bob")
    bobs.password()
    bobs_key = Authenticator(ISSUER)
    assert bobs.register(bobs_key).status_code == 200
    fresh = Person(app)
    fresh.password()
    refused = fresh.use_passkey(bobs_key, "/login/mfa", "/login/mfa/passkey")
    assert_json_error(refused, 400, "invalid_request")
    assert "not registered" in refused.get_json()["error_description"]
    # Nor as a sign-in with a user handle that is not its owner's.
    alices = user_row(app).webauthn_handle
    mixed = Person(app)
    refused = mixed.use_passkey(bobs_key, "/login", "/login/passkey", user_handle=alices)
    assert_json_error(refused, 400, "invalid_request")


@pytest.mark.parametrize("body", [
    "not json", "[]", "{}", '{"credential": "x"}', '{"credential": {}}',
    '{"credential": {"rawId": 5}}', '{"credential": {"rawId": "%%%"}}',
    '{"credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}}',
])
def test_malformed_passkey_answers_get_a_clear_json_error(person, app, body):
    person.password()
    person.register(Authenticator(ISSUER))
    fresh = Person(app)
    token = fresh.csrf("/login")
    fresh.options("/login/passkey", token)
    answer = fresh.http.post("/login/passkey", data=body, content_type="application/json",
                             headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert_json_error(answer, 400, "invalid_request")


def test_registration_answers_are_checked(person, app):
    person.password()
    key = Authenticator(ISSUER)
    token = person.csrf("/account/mfa")
    options = person.options("/account/mfa/passkeys", token)
    wrong_origin = key.create(options, origin="https://evil.example")
    assert_json_error(person.json("/account/mfa/passkeys", {"credential": wrong_origin},
                                  token), 400, "invalid_request")
    options = person.options("/account/mfa/passkeys", token)
    other_challenge = key.create({**options, "challenge": b64(b"x" * 32)})
    assert_json_error(person.json("/account/mfa/passkeys", {"credential": other_challenge},
                                  token), 400, "invalid_request")
    with app.app_context():
        assert db.session.scalar(select(Passkey)) is None


def test_the_passkey_script_is_allowed_by_the_pages_nonce(client):
    page = client.get("/login")
    nonce = re.search(r'<script src="/static/passkeys.js" nonce="([^"]+)"',
                      page.get_data(True)).group(1)
    assert f"script-src 'nonce-{nonce}'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert client.get("/login").headers["Content-Security-Policy"] != \
        page.headers["Content-Security-Policy"]  # a new nonce every page
    # Without JavaScript the passkey box stays hidden; the form still works.
    assert "data-passkey-box hidden" in page.get_data(True)


# -- policies and step-up --------------------------------------------------------------------


def test_acr_values_2_enrols_a_user_without_a_factor_first(person, clock, app, web_app):
    answer = person.oauth.authorize(**authorize_params(acr_values="2"))
    signed = person.password(at=answer.headers["Location"])
    resumed = person.http.get(signed.headers["Location"])
    enrol = resumed.headers["Location"]
    assert urlsplit(enrol).path == "/account/mfa"
    page = person.http.get(enrol).get_data(True)
    assert "web app asks for a second step" in page
    shown = person.enrol_totp(clock, at=enrol)
    assert len(person.codes) == 10
    resume = re.search(r'<a class="button primary" href="([^"]+)">Continue signing in',
                       shown).group(1).replace("&amp;", "&")
    claims = id_token_of(person, person.http.get(resume), "web", web_app.client_secret)
    assert claims["acr"] == "2"
    assert claims["amr"] == ["pwd", "otp", "mfa"]


def test_a_session_with_one_factor_steps_up(person, clock, app, web_app):
    person.password()  # signed in with the password: no factor yet
    other = Person(app)  # meanwhile, in another browser, a factor is set up
    other.password()
    other.enrol_totp(clock)
    person.secret = other.secret
    sid = person.session_row().sid

    silent = person.oauth.authorize(**authorize_params(prompt="none"))
    assert location_params(silent)["error"] == "interaction_required"
    answer = person.oauth.authorize(**authorize_params())
    mfa = answer.headers["Location"]
    assert urlsplit(mfa).path == "/login/mfa"
    clock.advance(30)
    done = person.submit_code(person.totp(clock), at=mfa)
    claims = id_token_of(person, person.oauth.follow(done), "web", web_app.client_secret)
    assert claims["acr"] == "2"
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["sid"] == sid  # the same session, stronger
    assert "login.step_up" in tags(app, user_row(app).id)


def test_acr_values_2_with_two_factors_proven_asks_nothing(person, clock, web_app):
    person.password()
    person.enrol_totp(clock)  # enrolling counted for this session
    answer = person.oauth.authorize(**authorize_params(acr_values="2", prompt="none"))
    claims = id_token_of(person, answer, "web", web_app.client_secret)
    assert claims["acr"] == "2"


def test_an_essential_acr_claim_forces_a_second_factor(person, web_app):
    person.password()
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["2"]}}})
    silent = person.oauth.authorize(**authorize_params(claims=claims, prompt="none"))
    assert location_params(silent)["error"] == "interaction_required"
    optional = json.dumps({"id_token": {"acr": {"values": ["2"]}}})
    answer = person.oauth.authorize(**authorize_params(claims=optional, prompt="none"))
    assert id_token_of(person, answer, "web", web_app.client_secret)["acr"] == "1"
    either = person.oauth.authorize(**authorize_params(acr_values="2 1", prompt="none"))
    assert id_token_of(person, either, "web", web_app.client_secret)["acr"] == "1"


def test_a_client_that_requires_mfa(person, make_client):
    strict = make_client("strict", skip_consent=True, require_mfa=True)
    person.password()
    answer = person.oauth.authorize(**authorize_params(client_id="strict"))
    assert urlsplit(answer.headers["Location"]).path == "/account/mfa"
    assert strict.client.require_mfa


def test_an_organization_that_requires_mfa(person, make_org, make_client, app, alice):
    org = make_org("vault", members=[alice])
    with app.app_context():
        db.session.merge(org).require_mfa = True
        db.session.commit()
    make_client("web", skip_consent=True)
    person.password()
    silent = person.oauth.authorize(**authorize_params(prompt="none"))
    assert location_params(silent)["error"] == "interaction_required"
    answer = person.oauth.authorize(**authorize_params())
    assert urlsplit(answer.headers["Location"]).path == "/account/mfa"


def test_the_password_grant_refuses_users_who_need_a_second_factor(person, clock, app,
                                                                    make_client, endpoint):
    external = make_client("external", grant_types=["password"], redirect_uris=[])
    strict = make_client("strict-external", grant_types=["password"], redirect_uris=[],
                         require_mfa=True)
    form = {"grant_type": "password", "username": "alice", "password": PASSWORD,
            "scope": "openid"}
    assert endpoint.post(form, "external", external.client_secret).status_code == 200
    refused = endpoint.post(form, "strict-external", strict.client_secret)
    assert_json_error(refused, 400, "invalid_grant")
    assert "second factor" in refused.get_json()["error_description"]
    person.password()
    person.enrol_totp(clock)
    refused = endpoint.post(form, "external", external.client_secret)
    assert_json_error(refused, 400, "invalid_grant")
    assert "login.refused" in tags(app, user_row(app).id)


# -- management ------------------------------------------------------------------------------


def test_removing_a_factor_ends_the_other_sessions(person, clock, app):
    person.password()
    person.register(Authenticator(ISSUER))
    person.enrol_totp(clock)
    other = Person(app)
    other.secret = person.secret
    clock.advance(30)
    other.sign_in_with_totp(clock)
    assert other.http.get("/account").status_code == 200
    removed = person.press("/account/mfa/totp/remove")
    assert removed.headers["Location"] == "/account/mfa?done=totp_removed"
    assert other.http.get("/account").status_code == 302
    assert person.http.get("/account").status_code == 200
    assert "mfa.totp_removed" in tags(app, user_row(app).id)


def test_removing_the_last_factor_needs_a_fresh_sign_in_and_takes_the_codes(person, clock,
                                                                           app):
    person.password()
    person.enrol_totp(clock)
    clock.advance(601)
    stale = person.press("/account/mfa/totp/remove")
    assert stale.headers["Location"] == "/login?next=/account/mfa&reason=fresh"
    with app.app_context():
        assert db.session.scalar(select(TotpFactor)) is not None
    signed = person.password(at=stale.headers["Location"])
    person.submit_code(person.totp(clock), at=signed.headers["Location"])
    assert person.press("/account/mfa/totp/remove").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(TotpFactor)) is None
        assert db.session.scalar(select(RecoveryCode)) is None
    assert Person(app).password().headers["Location"] == "/"  # the password alone again


def test_managing_factors_from_a_one_factor_session_asks_for_the_second(person, clock, app):
    person.password()
    other = Person(app)
    other.password()
    other.enrol_totp(clock)
    person.secret = other.secret
    answer = person.http.get("/account/mfa")
    assert answer.headers["Location"] == "/login/mfa?next=/account/mfa"
    clock.advance(30)
    done = person.submit_code(person.totp(clock), at=answer.headers["Location"])
    assert done.headers["Location"] == "/account/mfa"
    assert person.http.get("/account/mfa").status_code == 200


def test_another_users_passkey_cannot_be_renamed_or_removed(person, app, bob):
    bobs = Person(app, "bob")
    bobs.password()
    bobs.register(Authenticator(ISSUER))
    with app.app_context():
        bobs_id = db.session.scalar(select(Passkey.id))
    person.password()
    assert person.press(f"/account/mfa/passkeys/{bobs_id}/rename", name="mine").status_code \
        == 404
    assert person.press(f"/account/mfa/passkeys/{bobs_id}/remove").status_code == 404
    assert person.press("/account/mfa/passkeys/" + "x" * 100 + "/remove").status_code == 404


def test_an_administrator_resets_a_users_factors(person, clock, app, runner):
    person.password()
    person.enrol_totp(clock)
    person.register(Authenticator(ISSUER))
    result = runner.invoke(args=["idp", "users", "reset-mfa", "alice", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["factors_removed"] == 2
    with app.app_context():
        assert db.session.scalar(select(TotpFactor)) is None
        assert db.session.scalar(select(Passkey)) is None
        assert db.session.scalar(select(RecoveryCode)) is None
    assert person.http.get("/account").status_code == 302  # sessions ended
    assert "mfa.reset" in tags(app, user_row(app).id)
    missing = runner.invoke(args=["idp", "users", "reset-mfa", "nobody"])
    assert missing.exit_code == 1
    assert "no user" in missing.output


def test_the_login_page_for_mfa_without_anyone_to_ask_goes_to_the_login(client):
    answer = client.get("/login/mfa")
    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == "/login"
    refused = client.post("/login/mfa/passkey?options",
                          headers={"Accept": "application/json"})
    assert refused.status_code == 400  # no CSRF token


def test_discovery_names_the_acr_values(client):
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert metadata["acr_values_supported"] == ["1", "2"]
    assert "amr" in metadata["claims_supported"]


def test_the_password_alone_is_forgotten_if_no_second_factor_follows(person, clock, app):
    person.password()
    person.enrol_totp(clock)
    fresh = Person(app)
    fresh.secret = person.secret
    fresh.password()
    clock.advance(601)  # past IDP_INTERACTION_TTL
    late = fresh.http.get("/login/mfa")
    assert late.status_code == 302
    assert urlsplit(late.headers["Location"]).path == "/login"
    assert fresh.http.get("/account").status_code == 302
