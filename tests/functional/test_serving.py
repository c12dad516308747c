"""Behind a TLS-terminating proxy: ProxyFix, https-only endpoints, /healthz."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from idp.extensions import db
from idp.models import AuditEvent
from idp.services import accounts
from tests.helpers import PASSWORD, csrf_token

ISSUER = "https://id.example.com"


@pytest.fixture
def proxied(app, make_app):
    proxied = make_app(ISSUER=ISSUER, PROXY_COUNT=1)
    with proxied.app_context():
        accounts.create_user("alice", "alice@example.com", PASSWORD)
        db.session.commit()
    return proxied


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "id.example.com",
             "X-Forwarded-For": "198.51.100.7"}


def test_the_proxy_headers_give_the_scheme_host_and_client_address(proxied):
    http = proxied.test_client()
    page = http.get("/login", headers=FORWARDED, base_url="http://10.0.0.5:8000")
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"]
    response = http.post("/login", headers={**FORWARDED, "Referer": ISSUER + "/login"},
                         base_url="http://10.0.0.5:8000",
                         data={"username": "alice", "password": PASSWORD,
                               "csrf_token": csrf_token(page.get_data(True))})
    assert response.status_code == 303
    with proxied.app_context():
        event = db.session.query(AuditEvent).filter_by(tag="login.success").one()
        assert event.ip == "198.51.100.7"
    doc = http.get("/.well-known/openid-configuration", headers=FORWARDED,
                   base_url="http://10.0.0.5:8000").get_json()
    assert doc["token_endpoint"] == ISSUER + "/oauth/token"


def test_plain_http_to_an_https_issuer_is_refused_clearly(proxied):
    http = proxied.test_client()
    response = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                         base_url="http://id.example.com")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert "HTTPS" in response.get_json()["error_description"]


def test_healthz_answers_ok_on_any_host(client):
    response = client.get("/healthz", headers={"Host": "10.0.0.5:8000"})
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_and_endpoints_are_503_when_the_database_is_down(client, monkeypatch, caplog):
    def down(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["error"] == "temporarily_unavailable"
    monkeypatch.setattr(db.session, "get", down)
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        headers={"Authorization": "Basic d2ViOnNlY3JldA=="})
    assert token.status_code == 503
    assert token.headers["Retry-After"]
    assert token.get_json()["error"] == "temporarily_unavailable"
    assert any("database unreachable" in r.getMessage() for r in caplog.records)


def test_a_plain_http_issuer_on_a_lan_host_is_served(app, make_app):
    """The operator chose http (a demo on a LAN): Authlib's loopback-only rule does not apply."""
    app = make_app(ISSUER="http://idp.lan:8000")
    response = app.test_client().post("/oauth/token", base_url="http://idp.lan:8000",
                                      data={"grant_type": "client_credentials"},
                                      headers={"Authorization": "Basic c3ZjOng="})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
