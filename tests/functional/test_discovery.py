"""Discovery documents and the JWKS."""

from __future__ import annotations

import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata

from tests.conftest import ISSUER


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration",
                                  "/.well-known/oauth-authorization-server"])
def test_discovery_document_is_valid(client, path):
    response = client.get(path)
    assert response.status_code == 200
    doc = response.get_json()
    OpenIDProviderMetadata(doc).validate()
    AuthorizationServerMetadata(doc).validate()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == ISSUER + "/oauth/authorize"
    assert doc["token_endpoint"] == ISSUER + "/oauth/token"
    assert doc["userinfo_endpoint"] == ISSUER + "/oauth/userinfo"
    assert doc["jwks_uri"] == ISSUER + "/.well-known/jwks.json"
    assert doc["response_types_supported"] == ["code"]
    assert doc["response_modes_supported"] == ["query", "fragment", "form_post"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in doc["id_token_signing_alg_values_supported"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert "openid" in doc["scopes_supported"]
    assert "authorization_code" in doc["grant_types_supported"]


def test_discovery_advertises_only_registered_grants(app, client):
    registered = {cls.GRANT_TYPE for cls, _ in app.extensions["idp.oauth"]._token_grants}
    assert set(client.get("/.well-known/openid-configuration").get_json()[
        "grant_types_supported"]) == registered


def test_jwks_publishes_public_keys_only_with_distinct_kids(client):
    jwks = client.get("/.well-known/jwks.json").get_json()
    keys = jwks["keys"]
    assert {k["kty"] for k in keys} == {"RSA", "EC", "OKP"}
    assert len({k["kid"] for k in keys}) == len(keys)
    for key in keys:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
        assert key["use"] == "sig"
