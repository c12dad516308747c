"""``/openapi.json``: a valid OpenAPI 3.1 document naming every route, served as shipped."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from schemathesis.core.result import Ok

DOCUMENT_BYTES = resources.files("idp").joinpath("openapi.json").read_bytes()
DOCUMENT: dict[str, Any] = json.loads(DOCUMENT_BYTES)
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Werkzeug answers these for every rule by itself; the document lists what the views do.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}
CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _resolve(node: Any) -> Any:
    """Follow local ``$ref`` pointers until a concrete node."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = DOCUMENT
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _documented() -> dict[str, set[str]]:
    return {path: {m.upper() for m in item if m in HTTP_METHODS}
            for path, item in DOCUMENT["paths"].items()}


def _routes(app) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = CONVERTER.sub(r"{\1}", rule.rule)
        routes.setdefault(path, set()).update(set(rule.methods or ()) - IMPLICIT_METHODS)
    return routes


def _operations():
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_the_document_is_valid_openapi_3_1():
    assert re.fullmatch(r"3\.1\.\d+", DOCUMENT["openapi"])
    schema = schemathesis.openapi.from_dict(json.loads(DOCUMENT_BYTES))
    schema.validate()  # the OpenAPI 3.1 meta-schema; raises on any violation
    results = list(schema.get_all_operations())
    problems = [result for result in results if not isinstance(result, Ok)]
    assert not problems  # every $ref resolves, every operation can be built
    assert len(results) == sum(1 for _ in _operations())


def test_every_route_is_documented_with_its_methods(app):
    assert _routes(app) == _documented()


def test_operation_ids_are_unique():
    ids = [operation["operationId"] for _, _, operation in _operations()]
    assert len(ids) == len(set(ids))


MACHINE_PATHS = ("/oauth/token", "/oauth/userinfo", "/oauth/introspect", "/oauth/revoke",
                 "/.well-known/", "/openapi.json", "/healthz")


def test_every_error_body_is_error_and_error_description():
    error = _resolve(DOCUMENT["components"]["schemas"]["Error"])
    assert error["required"] == ["error", "error_description"]
    assert error["properties"]["error"]["type"] == "string"
    assert error["properties"]["error_description"]["type"] == "string"
    for path, method, operation in _operations():
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            content = _resolve(response).get("content", {})
            if path.startswith(MACHINE_PATHS):  # machines get JSON errors only
                assert set(content) == {"application/json"}, (path, method, status)
            if "application/json" not in content:
                continue  # a page for people (a wrong password re-renders the form)
            schema = _resolve(content["application/json"]["schema"])
            parts = [_resolve(s) for s in schema.get("allOf", [schema])]
            assert error in parts, (path, method, status)


def test_every_path_but_healthz_documents_the_foreign_host_403():
    for path, method, operation in _operations():
        if path == "/healthz":
            assert "403" not in operation["responses"]
            continue
        assert "403" in operation["responses"], (path, method)


def test_the_discovery_endpoints_are_documented(client):
    metadata = client.get("/.well-known/openid-configuration").get_json()
    documented = _documented()
    endpoints = {k: v for k, v in metadata.items() if k.endswith(("_endpoint", "_uri"))}
    assert len(endpoints) == 7
    for name, url in endpoints.items():
        assert urlsplit(url).path in documented, name


def test_the_served_document_is_the_packaged_file(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.get_data() == DOCUMENT_BYTES
    assert response.get_json() == DOCUMENT


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_other_methods_are_405_json(client, method):
    response = client.open("/openapi.json", method=method.upper())
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD",
                                                                          "OPTIONS"}
    assert response.get_json()["error"] == "invalid_request"


def test_a_foreign_host_is_refused(client):
    response = client.get("/openapi.json", headers={"Host": "satellite.example"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "access_denied"
