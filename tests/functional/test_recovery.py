"""Forgot password → a mail from a real SMTP server → the link → a new password.

The mail goes through ``aiosmtpd`` (a real SMTP server on a free port) from the
app's background sender; the tests read it there and follow its link."""

from __future__ import annotations

import re
import socket
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models import AuditEvent, LoginSession

from ..helpers import PASSWORD, OAuthClient, csrf_token
from ..mailbox import smtp_inbox

NEW = "a brand new password"


@pytest.fixture
def inbox():
    with smtp_inbox() as mailbox:
        yield mailbox


@pytest.fixture
def app(make_app, inbox):
    return make_app(SMTP_URL=inbox.url, MAIL_FROM="IdP <id@example.com>")


def delivered(app, inbox, count: int) -> list[EmailMessage]:
    assert app.extensions["idp.mail"].flush()
    assert len(inbox.messages) == count
    return inbox.messages


def ask(client, email: str):
    token = csrf_token(client.get("/password/forgot").get_data(True))
    return client.post("/password/forgot", data={"csrf_token": token, "email": email})


def link_in(message: EmailMessage) -> str:
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    [link] = re.findall(r"https?://\S+/password/reset/\S+", text)
    assert link in html
    return link.split("localhost", 1)[1] if "localhost" in link else link


def test_the_login_page_offers_it(client):
    assert 'href="/password/forgot"' in client.get("/login").get_data(True)


def test_forgot_then_reset_then_sign_in(app, client, inbox, make_user):
    make_user("ann", email="ann@example.com")
    other = OAuthClient(app.test_client())
    assert other.login("ann", PASSWORD).status_code == 303  # a session elsewhere

    sent = ask(client, "ANN@example.com ")
    assert sent.status_code == 200
    assert "If an account has the address" in sent.get_data(True)
    [message] = delivered(app, inbox, 1)
    assert message["To"] == "ann@example.com"
    assert message["From"] == "IdP <id@example.com>"
    assert message.get_content_type() == "multipart/alternative"
    path = link_in(message)

    page = client.get(path)
    assert page.status_code == 200
    token = csrf_token(page.get_data(True))
    mismatch = client.post(path, data={"csrf_token": token, "password": NEW,
                                       "password2": "something else entirely"})
    assert mismatch.status_code == 400
    assert "do not match" in mismatch.get_data(True)
    short = client.post(path, data={"csrf_token": token, "password": "short",
                                    "password2": "short"})
    assert short.status_code == 400
    assert "at least" in short.get_data(True)
    done = client.post(path, data={"csrf_token": token, "password": NEW, "password2": NEW})
    assert done.status_code == 303
    assert done.headers["Location"] == "/login?reason=reset"

    with app.app_context():
        assert db.session.scalar(select(LoginSession).where(
            LoginSession.ended_at.is_(None))) is None  # every session ended
        tags = list(db.session.scalars(select(AuditEvent.tag)))
        assert "password.reset_requested" in tags
        assert "password.reset" in tags
    assert OAuthClient(app.test_client()).login("ann", PASSWORD).status_code == 401
    assert OAuthClient(app.test_client()).login("ann", NEW).status_code == 303

    used = client.get(path)  # once only: the password it replaces is gone
    assert used.status_code == 400
    assert "used already" in used.get_data(True)


def test_an_unknown_or_disabled_address_gets_the_same_page_and_no_mail(app, client, inbox,
                                                                       make_user):
    make_user("dis", email="dis@example.com")
    with app.app_context():
        from idp.models import User

        db.session.scalar(select(User).where(User.username == "dis")).disabled = True
        db.session.commit()
    known = ask(client, "dis@example.com").get_data(True)
    unknown = ask(client, "nobody@example.com").get_data(True)
    assert known.replace("dis@example.com", "X") == unknown.replace("nobody@example.com", "X")
    ask(client, "dis")  # a username is not an address
    delivered(app, inbox, 0)


@pytest.mark.parametrize("email", ["a@example.com\r\nBcc: evil@example.com",
                                   "x" * 300 + "@example.com", ""])
def test_bad_addresses_are_refused_or_ignored(app, client, inbox, make_user, email):
    make_user("a", email="a@example.com")
    answer = ask(client, email)
    assert answer.status_code in (200, 400)
    delivered(app, inbox, 0)


def test_expired_and_forged_links_get_a_clear_page(app, client, inbox, make_user, clock):
    make_user("eve", email="eve@example.com")
    ask(client, "eve@example.com")
    path = link_in(delivered(app, inbox, 1)[0])
    forged = client.get(path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"))
    assert forged.status_code == 400
    assert "not valid" in forged.get_data(True)
    clock.advance(3601)
    expired = client.get(path)
    assert expired.status_code == 400
    assert "expired" in expired.get_data(True)


def test_asking_is_rate_limited_per_address(make_app, inbox):
    from idp.services import accounts

    app = make_app(SMTP_URL=inbox.url, RATE_LIMIT_RESET_ACCOUNT="2/hour")
    with app.app_context():
        accounts.create_user("ray", "ray@example.com", PASSWORD)
        db.session.commit()
    client = app.test_client()
    assert [ask(client, "ray@example.com").status_code for _ in range(3)] == [200, 200, 429]
    delivered(app, inbox, 2)


def test_without_a_server_mail_is_a_file(app, tmp_path):
    from idp import mail

    with app.app_context():
        message = mail.build("ann@example.com", "Hello", "text", "<p>html</p>")
    mail.Transport(directory=tmp_path).deliver(message)
    [written] = tmp_path.glob("*.eml")
    assert b"Subject: Hello" in written.read_bytes()


@pytest.mark.parametrize(("to", "subject"), [("a@example.com\r\nBcc: x@example.com", "Hi"),
                                             ("a@example.com", "Hi\nBcc: x@example.com")])
def test_a_header_with_a_line_break_is_refused(app, to, subject):
    from idp import mail

    with app.app_context(), pytest.raises(ValueError, match="linefeed or carriage return"):
        mail.build(to, subject, "text", "<p>html</p>")


def test_an_administrator_sends_a_reset_link(app, client, inbox, make_user):
    make_user("root", admin=True)
    user = make_user("kim", email="kim@example.com")
    OAuthClient(client).login("root", PASSWORD)
    page = client.get(f"/admin/users/{user.id}").get_data(True)
    answer = client.post(f"/admin/users/{user.id}/reset-link",
                         data={"csrf_token": csrf_token(page)})
    assert answer.status_code == 303
    [message] = delivered(app, inbox, 1)
    assert message["To"] == "kim@example.com"
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(
            AuditEvent.tag == "password.reset_link_sent"))
        assert event.details["actor"] != "cli"


# -- confirming an address -------------------------------------------------------------------


def verify_link_in(message: EmailMessage) -> str:
    text = message.get_body(("plain",)).get_content()
    [link] = re.findall(r"https?://\S+/email/verify/\S+", text)
    return link.split("localhost", 1)[1]


def test_an_address_is_confirmed_through_the_mailed_link(app, client, inbox, make_user,
                                                         clock):
    user = make_user("vic", email="vic@example.com")
    browser = OAuthClient(client)
    browser.login("vic", PASSWORD)
    page = client.get("/account").get_data(True)
    assert "not confirmed yet" in page
    sent = client.post("/account/email/verify", data={"csrf_token": csrf_token(page)})
    assert sent.status_code == 303
    [message] = delivered(app, inbox, 1)
    assert message["To"] == "vic@example.com"
    path = verify_link_in(message)

    forged = client.get(path[:-2] + ("AA" if not path.endswith("AA") else "BB"))
    assert forged.status_code == 400
    done = client.get(path)
    assert done.status_code == 200
    assert "is confirmed as yours" in done.get_data(True)
    with app.app_context():
        from idp.models import User

        assert db.session.get(User, user.id).email_verified is True
    assert client.get(path).status_code == 200  # again: harmless
    assert "not confirmed yet" not in client.get("/account").get_data(True)


def test_a_link_for_an_old_address_or_too_old_confirms_nothing(app, client, inbox, make_user,
                                                                clock):
    from idp.models import User

    user = make_user("wes", email="wes@example.com")
    OAuthClient(client).login("wes", PASSWORD)
    page = client.get("/account").get_data(True)
    client.post("/account/email/verify", data={"csrf_token": csrf_token(page)})
    path = verify_link_in(delivered(app, inbox, 1)[0])
    with app.app_context():
        db.session.get(User, user.id).email = "wes.new@example.com"
        db.session.commit()
    moved = client.get(path)
    assert moved.status_code == 400
    assert "no longer has" in moved.get_data(True)
    with app.app_context():
        db.session.get(User, user.id).email = "wes@example.com"
        db.session.commit()
    clock.advance(2 * 24 * 3600 + 1)
    expired = client.get(path)
    assert expired.status_code == 400
    assert "expired" in expired.get_data(True)
    with app.app_context():
        assert db.session.get(User, user.id).email_verified is False


# -- invitations and sign-up -----------------------------------------------------------------


def invite_link_in(message: EmailMessage) -> str:
    text = message.get_body(("plain",)).get_content()
    [link] = re.findall(r"https?://\S+/invite/\S+", text)
    return link.split("localhost", 1)[1]


def test_an_invitation_creates_the_account_and_the_membership(app, client, inbox, make_org):
    from idp.models import Membership, User

    make_org("acme")
    sent = app.test_cli_runner().invoke(args=["idp", "orgs", "invite", "acme",
                                              "New.Person@example.com", "--role", "admin"])
    assert sent.exit_code == 0, sent.output
    [message] = delivered(app, inbox, 1)
    assert message["Subject"] == "You are invited to Acme"
    path = invite_link_in(message)
    page = client.get(path)
    assert "as an administrator" in page.get_data(True)
    token = csrf_token(page.get_data(True))
    taken = client.post(path, data={"csrf_token": token, "username": "bad name",
                                    "password": NEW, "password2": NEW})
    assert taken.status_code == 400
    assert "letters, digits" in taken.get_data(True)
    joined = client.post(path, data={"csrf_token": token, "username": "newbie",
                                     "password": NEW, "password2": NEW})
    assert joined.status_code == 303
    assert joined.headers["Location"] == "/login?reason=joined"
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "newbie"))
        assert (user.email, user.email_verified) == ("new.person@example.com", True)
        [membership] = db.session.scalars(select(Membership).where(
            Membership.user_id == user.id))
        assert membership.role == "admin"
    assert OAuthClient(app.test_client()).login("newbie", NEW).status_code == 303
    again = client.get(path)  # the link works once
    assert again.status_code == 400
    assert "used already" in again.get_data(True)


def test_a_used_invitation_cannot_bring_a_removed_member_back(app, client, inbox, make_org):
    from idp.models import Membership, User
    from idp.services import orgs

    make_org("acme")
    app.test_cli_runner().invoke(args=["idp", "orgs", "invite", "acme", "zed@example.com"])
    path = invite_link_in(delivered(app, inbox, 1)[0])
    page = client.get(path).get_data(True)
    assert client.post(path, data={"csrf_token": csrf_token(page), "username": "zed",
                                   "password": NEW, "password2": NEW}).status_code == 303
    with app.app_context():
        zed = db.session.scalar(select(User).where(User.username == "zed"))
        orgs.remove_member(orgs.require_org("acme"), zed)
        db.session.commit()
    stranger = app.test_client()  # no session: the old link is all it has
    assert stranger.get(path).status_code == 400
    signed_in = app.test_client()
    OAuthClient(signed_in).login("zed", NEW)  # even zed, signed in, cannot rejoin with it
    assert "used already" in signed_in.get(path).get_data(True)
    with app.app_context():
        assert db.session.scalar(select(Membership).where(Membership.user_id == zed.id)) is None


def test_an_invitation_to_an_existing_account_only_joins(app, client, inbox, make_user,
                                                         make_org, clock):
    from idp.models import Membership

    make_org("beta")
    user = make_user("old", email="old@example.com")
    app.test_cli_runner().invoke(args=["idp", "orgs", "invite", "beta", "old@example.com"])
    path = invite_link_in(delivered(app, inbox, 1)[0])
    page = client.get(path).get_data(True)  # not signed in: sign in to that account first
    assert 'name="password"' not in page
    assert 'href="/login?next=/invite/' in page
    with app.app_context():
        assert db.session.scalar(select(Membership).where(Membership.user_id == user.id)) is None
    OAuthClient(client).login("old", PASSWORD)
    page = client.get(path).get_data(True)
    joined = client.post(path, data={"csrf_token": csrf_token(page)})
    assert joined.status_code == 303
    assert joined.headers["Location"] == "/account?done=joined"
    with app.app_context():
        assert db.session.scalar(select(Membership.role).where(
            Membership.user_id == user.id)) == "member"
    clock.advance(7 * 24 * 3600 + 1)
    assert "expired" in client.get(path).get_data(True)
    forged = client.get(path[:-2] + ("AA" if not path.endswith("AA") else "BB"))
    assert forged.status_code == 400


def test_a_bad_invitation_address_is_a_clear_cli_error(app):
    made = app.test_cli_runner().invoke(args=["idp", "orgs", "create", "gamma", "--name", "G"])
    assert made.exit_code == 0
    bad = app.test_cli_runner().invoke(args=["idp", "orgs", "invite", "gamma", "not-mail"])
    assert bad.exit_code == 1
    assert "--email: invalid email address" in bad.output


@pytest.mark.parametrize(("mode", "status"), [("off", 404), ("invite", 200)])
def test_sign_up_is_off_or_by_invitation(make_app, mode, status):
    app = make_app(SIGNUP=mode)
    page = app.test_client().get("/signup")
    assert page.status_code == status
    if mode == "invite":
        assert "by invitation" in page.get_data(True)
    assert "Create an account" not in app.test_client().get("/login").get_data(True)


def sign_up(client, email: str):
    token = csrf_token(client.get("/signup").get_data(True))
    return client.post("/signup", data={"csrf_token": token, "email": email})


def sign_up_link_in(message: EmailMessage) -> str:
    [link] = re.findall(r"https?://\S+/signup/confirm/\S+", message.get_body(
        ("plain",)).get_content())
    assert link in message.get_body(("html",)).get_content()
    return link.split("localhost", 1)[1]


def test_open_sign_up_makes_the_account_through_the_mailed_link(make_app, inbox):
    from idp.models import User

    app = make_app(SIGNUP="open", SMTP_URL=inbox.url)
    client = app.test_client()
    assert "Create an account" in client.get("/login").get_data(True)
    asked = sign_up(client, "sol@example.com")
    assert asked.status_code == 200
    assert "Check your mail" in asked.get_data(True)
    [message] = delivered(app, inbox, 1)
    assert message["Subject"] == "Finish creating your account"
    path = sign_up_link_in(message)
    page = client.get(path)  # the address's owner chooses the username and password
    assert page.status_code == 200
    assert 'name="password"' in page.get_data(True)
    token = csrf_token(page.get_data(True))
    short = client.post(path, data={"csrf_token": token, "username": "sol",
                                    "password": "short", "password2": "short"})
    assert short.status_code == 400
    assert 'aria-invalid="true"' in short.get_data(True)
    with app.app_context():  # nothing made yet
        assert db.session.scalar(select(User).where(User.username == "sol")) is None
    made = client.post(path, data={"csrf_token": token, "username": "sol", "password": NEW,
                                   "password2": NEW})
    assert made.status_code == 303
    assert made.headers["Location"] == "/login?reason=signed-up"
    with app.app_context():
        assert db.session.scalar(select(User.email_verified).where(
            User.username == "sol")) is True
    assert OAuthClient(app.test_client()).login("sol", NEW).status_code == 303
    again = client.get(path)  # works once: the address has an account now
    assert again.status_code == 400
    assert "has an account already" in again.get_data(True)


def test_sign_up_does_not_say_which_addresses_have_accounts(make_app, inbox):
    app = make_app(SIGNUP="open", SMTP_URL=inbox.url)
    with app.app_context():
        from idp.services import accounts

        accounts.create_user("tam", "tam@example.com", PASSWORD)
        accounts.create_user("uma@example.com", "other@example.com", PASSWORD)
        db.session.commit()
    client = app.test_client()
    emails = ("tam@example.com", "new2@example.com", "uma@example.com")
    answers = [sign_up(client, email) for email in emails]
    assert [a.status_code for a in answers] == [200, 200, 200]
    pages = {re.sub(r'value="[^"]+"', "", a.get_data(True).replace(email, "ADDRESS"))
             for a, email in zip(answers, emails, strict=True)}
    assert len(pages) == 1  # the same page for an address with an account, and without
    told, invited, username_only = delivered(app, inbox, 3)
    assert told["To"] == "tam@example.com"
    assert told["Subject"] == "You already have an account"
    assert "/signup/confirm/" not in told.get_body(("plain",)).get_content()
    assert invited["Subject"] == "Finish creating your account"
    # An address that is only someone's username is free as an address.
    assert username_only["Subject"] == "Finish creating your account"


def test_a_sign_up_link_is_the_address_owners_alone(make_app, inbox, clock):
    app = make_app(SIGNUP="open", SMTP_URL=inbox.url)
    client = app.test_client()
    sign_up(client, "ula@example.com")
    path = sign_up_link_in(delivered(app, inbox, 1)[0])
    assert client.get(path[:-3] + "xyz").status_code == 400
    page = client.get(path).get_data(True)
    taken = client.post(path, data={"csrf_token": csrf_token(page), "username": "ula@x.com",
                                    "password": NEW, "password2": NEW})
    assert taken.status_code == 303  # a username may look like an address
    clock.advance(2 * 24 * 3600 + 1)
    expired = client.get(path)
    assert expired.status_code == 400


@pytest.mark.parametrize("email", ["a,b@example.com", "a@example.com\r\nBcc: x@example.com",
                                   "x" * 300 + "@example.com", "<a@example.com>"])
def test_sign_up_refuses_anything_but_one_address(make_app, inbox, email):
    app = make_app(SIGNUP="open", SMTP_URL=inbox.url)
    answer = sign_up(app.test_client(), email)
    assert answer.status_code == 400
    delivered(app, inbox, 0)


def test_an_invitation_error_for_a_field_the_form_lacks_is_shown_and_uses_nothing(
        app, client, inbox, make_user, make_org):
    make_org("acme")
    make_user("bob@x.com", email="bob-real@example.com")  # a username that is an address
    app.test_cli_runner().invoke(args=["idp", "orgs", "invite", "acme", "bob@x.com"])
    path = invite_link_in(delivered(app, inbox, 1)[0])
    page = client.get(path).get_data(True)
    assert 'name="password"' in page  # no account has the address: a new one
    refused = client.post(path, data={"csrf_token": csrf_token(page), "username": "bobby",
                                      "password": NEW, "password2": NEW})
    assert refused.status_code == 400
    assert 'role="alert"' in refused.get_data(True)
    assert client.get(path).status_code == 200  # the link still works


def test_the_invite_command_says_when_the_mail_could_not_go(make_app, monkeypatch):
    from idp import mail
    from idp.services import orgs

    monkeypatch.setattr(mail, "RETRIES", (0.0,))
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    app = make_app(SMTP_URL=f"smtp://127.0.0.1:{port}")
    with app.app_context():
        orgs.create_org("acme", "Acme")
        db.session.commit()
    sent = app.test_cli_runner().invoke(args=["idp", "orgs", "invite", "acme", "z@example.com"])
    assert sent.exit_code == 1
    assert "not sent yet" in sent.output


def test_an_administrator_invites_from_the_console(app, client, inbox, make_user, make_org):
    make_user("root", admin=True)
    make_org("delta")
    OAuthClient(client).login("root", PASSWORD)
    page = client.get("/admin/orgs/delta").get_data(True)
    bad = client.post("/admin/orgs/delta/invite", data={"csrf_token": csrf_token(page),
                                                        "email": "nope", "role": "member"})
    assert bad.status_code == 400
    assert "invalid email address" in bad.get_data(True)
    sent = client.post("/admin/orgs/delta/invite", data={"csrf_token": csrf_token(page),
                                                         "email": "zed@example.com",
                                                         "role": "member"})
    assert sent.status_code == 303
    [message] = delivered(app, inbox, 1)
    assert message["To"] == "zed@example.com"
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.tag == "org.invited"))
        assert event.details["actor"] != "cli"


@pytest.mark.parametrize("name", ["Acme\r\nBcc: x@example.com", "Acme\x00", "Tab\there"])
def test_an_organization_name_is_one_line_so_no_mail_header_can_break(app, name):
    from idp.services import FieldError, orgs

    with app.app_context():
        with pytest.raises(FieldError, match="one line"):
            orgs.create_org("acme", name)
        org = orgs.create_org("acme", "Acme")
        with pytest.raises(FieldError, match="one line"):
            orgs.update_org(org, name=name)
