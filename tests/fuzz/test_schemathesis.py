"""Schemathesis against a live server: no 5xx, and every answer as ``/openapi.json`` says.

The schema is loaded from the running server, so what is checked is the
document as served. Every operation gets the explicit examples, Schemathesis's
coverage cases (boundary values, missing and malformed parameters, undeclared
methods) and a bounded number of generated cases, derandomized so a CI run
repeats. The fuzzer gets real credentials: HTTP Basic for a confidential
client with every grant type, a user's Bearer access token for UserInfo, and
an admin client's token (scope ``idp:admin``) for the admin API.
"""

from __future__ import annotations

import base64
import zlib

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.live import LiveServer, live_server_fixture

pytestmark = pytest.mark.live

server = live_server_fixture()

MAX_EXAMPLES = 25  # generated cases per operation, on top of examples and coverage cases
SEED = 20260101
CLIENT_ID = "fuzz-client"
CLIENT_SECRET = "fuzz-client-secret-0123456789abcdefghijklmnop"
ADMIN_ID = "fuzz-admin"
ADMIN_SECRET = "fuzz-admin-secret-0123456789abcdefghijklmnop"
USERNAME, PASSWORD = "fuzz-user", "fuzz-user-password"
GRANTS = ("authorization_code", "refresh_token", "password", "client_credentials",
          "client_delegate", "urn:ietf:params:oauth:grant-type:token-exchange")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    unsupported_method,  # undeclared methods: 405 with Allow
]


@pytest.fixture(scope="module")
def access_token(server: LiveServer) -> str:
    """Demo data (the document's examples name demo-web), a client, a user; a Bearer token."""
    server.cli("init", "--demo")
    server.cli("users", "create", USERNAME, "--email", "fuzz@example.com", "--password", PASSWORD,
             "--given-name", "Fuzz", "--family-name", "User", "--email-verified")
    server.cli("orgs", "add-member", "acme", USERNAME)
    grants = [arg for grant in GRANTS for arg in ("--grant-type", grant)]
    server.cli_json("clients", "create", "--name", "Fuzz", "--client-id", CLIENT_ID,
                  "--client-secret", CLIENT_SECRET, "--redirect-uri",
                  "http://localhost:8080/callback", *grants, "--scope",
                  "openid profile email offline_access org public_metadata private_metadata "
                  "group_names group_ids")
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    with requests.post(f"{server.url}/oauth/token", timeout=10,
                       headers={"Authorization": f"Basic {basic}"},
                       data={"grant_type": "password", "username": USERNAME,
                             "password": PASSWORD, "scope": "openid profile email org"}) as r:
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


@pytest.fixture(scope="module")
def admin_token(server: LiveServer, access_token: str) -> str:
    """An admin client's token, long enough for the whole run."""
    server.cli_json("clients", "create", "--name", "Fuzz admin", "--client-id", ADMIN_ID,
                    "--client-secret", ADMIN_SECRET, "--grant-type", "client_credentials",
                    "--scope", "idp:admin", "--access-token-ttl", "3600")
    with requests.post(f"{server.url}/oauth/token", timeout=10, auth=(ADMIN_ID, ADMIN_SECRET),
                       data={"grant_type": "client_credentials", "scope": "idp:admin"}) as r:
        assert r.status_code == 200, r.text
        assert r.json()["scope"] == "idp:admin"
        return r.json()["access_token"]


@pytest.fixture(scope="module")
def api_schema(server: LiveServer, access_token: str, admin_token: str):
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "request-timeout": 10,
        "max-redirects": 0,  # a redirect is the answer under test, never followed
        "auth": {"openapi": {
            "clientBasic": {"username": CLIENT_ID, "password": CLIENT_SECRET},
            "userBearer": {"bearer": access_token},
            "adminBearer": {"bearer": admin_token},
        }},
    })
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """Schemathesis 4.32 reads and rewrites ``node._nodeid``, which pytest 9.2 renamed.

    Its per-operation results are pytest subtests, labelled on their own; the
    rewritten id was only cosmetic, so giving it the attribute is enough.
    """
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


DEMO_CLIENT = {"client_id": "demo-web", "redirect_uri": "http://localhost:8080/callback"}


def _aim_at_demo_client(case) -> None:
    """Half the generated authorization requests name a real client and redirect URI.

    Random ones stop at client validation (401/400); these get past it, into what
    Authlib and the product check next (scope, prompt, max_age, PKCE, response_mode,
    id_token_hint…) and the error redirects that report it. The choice is a checksum of
    the generated query, so a run repeats.
    """
    if case.operation.label != "GET /oauth/authorize" or not isinstance(case.query, dict):
        return
    if zlib.crc32(repr(sorted(case.query.items())).encode()) % 2:
        case.query.update(DEMO_CLIENT)


@schema.parametrize()
def test_api(case):
    _aim_at_demo_client(case)
    response = case.call()
    checks = CHECKS
    if response.status_code == 414:
        # The HTTP server refuses a URI over 64 KiB before the app sees it (the
        # longest generated values, percent-encoded four-byte characters): a bare
        # 414, so neither the media types nor the method check apply.
        assert not response.content
        checks = [not_a_server_error, status_code_conformance]
    case.validate_response(response, checks=checks)


# Authlib quotes response_type and redirect_uri in error descriptions, which RFC 6749
# limits to printable ASCII without '"' and '\\'; such values are refused up front.
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/oauth/authorize"), ("POST", "/oauth/authorize"),
    ("GET", "/consent"), ("GET", "/select-org"),
])
@pytest.mark.parametrize("value", ["\u00e9", '"', "\\"])
@pytest.mark.usefixtures("access_token")  # demo-web exists
def test_authorization_request_quoting_response_type(server: LiveServer, method, path, value):
    params = {"response_type": value, "client_id": "demo-web",
              "redirect_uri": "http://localhost:8080/callback"}
    where = {"data": params} if method == "POST" else {"params": params}
    with requests.request(method, server.url + path, timeout=10, allow_redirects=False,
                          **where) as response:
        assert response.status_code == 400, response.text
        assert "Location" not in response.headers


@pytest.mark.parametrize("value", ["https://\u00e9.example/cb", 'https://rp.example/"',
                                   "https://rp.example/\\"])
@pytest.mark.usefixtures("access_token")  # demo-web exists: the redirect URI is checked
def test_authorization_request_quoting_redirect_uri(server: LiveServer, value):
    params = {"response_type": "code", "client_id": "demo-web", "redirect_uri": value}
    with requests.get(f"{server.url}/oauth/authorize", params=params, timeout=10,
                      allow_redirects=False) as response:
        assert response.status_code == 400, response.text
