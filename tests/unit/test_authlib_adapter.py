"""What ``idp/oauth/adapter.py`` (and two overrides) rely on in Authlib, below its
documented surface. Each test fails loudly when an Authlib release changes it, before
a flow quietly breaks."""

from __future__ import annotations

import inspect

import pytest
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InsecureTransportError, InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask
from werkzeug.datastructures import MultiDict

from idp.oauth.adapter import AuthorizationRequest, TokenRequest

LAN_ISSUER = "http://idp.lan:8000"


def test_authlib_still_refuses_a_plain_http_url_off_loopback():
    """Why the adapter presents a plain-http issuer's URLs as https."""
    with pytest.raises(InsecureTransportError):
        OAuth2Request("GET", LAN_ISSUER + "/oauth/authorize", headers={})


def test_an_authorization_request_is_built_from_stored_parameters_for_any_issuer():
    values = MultiDict([("client_id", "web"), ("state", "s"), ("resource", "a"),
                        ("resource", "b")])
    request = AuthorizationRequest(LAN_ISSUER, values)
    assert request.payload.client_id == "web"
    assert request.payload.state == "s"
    assert request.payload.datalist["resource"] == ["a", "b"]
    assert request.form is values
    assert request.decision is None


def test_authlib_still_checks_repeated_parameters_through_the_payload():
    repeated = AuthorizationRequest(LAN_ISSUER, MultiDict([("state", "a"), ("state", "b")]))
    with pytest.raises(InvalidRequestError):
        AuthorizationCodeGrant.validate_no_multiple_request_parameter(repeated)


def test_the_flask_request_keeps_the_constructor_the_token_request_copies():
    """``TokenRequest`` builds a plain-http issuer's request by hand, as
    ``FlaskOAuth2Request.__init__`` does: a ``_request`` and a ``FlaskOAuth2Payload``."""
    source = inspect.getsource(FlaskOAuth2Request.__init__)
    assert "self._request = request" in source
    assert "FlaskOAuth2Payload(request)" in source
    app = Flask(__name__)
    with app.test_request_context("/oauth/token", base_url=LAN_ISSUER, method="POST",
                                  data={"grant_type": "client_credentials"}):
        from flask import request

        made = TokenRequest(request, https_issuer=False)
        assert made.form["grant_type"] == "client_credentials"
        assert isinstance(made.payload, FlaskOAuth2Payload)
        assert made.payload.grant_type == "client_credentials"
        assert made.token_context is None


def test_introspection_still_builds_its_answer_in_create_introspection_payload():
    """Our endpoint decides "active" in that method; if Authlib stopped calling it, every
    token's introspection would fall back to Authlib's own checks."""
    assert "self.create_introspection_payload(token)" in inspect.getsource(
        IntrospectionEndpoint.create_endpoint_response)
