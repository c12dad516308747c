"""Redirect URI matching, registration rules and the ``next`` check."""

import pytest

from idp.security.redirects import is_safe_next, redirect_uri_matches, registration_problem

REGISTERED = "https://app.example.com/cb"


@pytest.mark.parametrize("hostile", [
    "https://app.example.com/cb?x=1",
    "https://app.example.com/cb/",
    "https://app.example.com/cb/extra",
    "https://APP.example.com/cb",
    "https://app.example.com/CB",
    "https://app.example.com/%2e%2e/cb",
    "https://app.example.com/cb#x",
    "https://user@app.example.com/cb",
    "https://app.example.com@evil.example/cb",
    "https://app.example.com.evil.example/cb",
    "http://app.example.com/cb",
    "https://app.example.com:443/cb",
])
def test_only_the_exact_string_matches(hostile):
    assert redirect_uri_matches(REGISTERED, REGISTERED)
    assert not redirect_uri_matches(hostile, REGISTERED)


@pytest.mark.parametrize("registered", ["http://127.0.0.1/cb", "http://127.0.0.1:8000/cb",
                                        "http://[::1]/cb"])
def test_loopback_ip_redirects_of_native_apps_match_any_port(registered):
    host = "[::1]" if "::1" in registered else "127.0.0.1"
    assert redirect_uri_matches(f"http://{host}:51234/cb", registered, native=True)
    assert not redirect_uri_matches(f"http://{host}:51234/other", registered, native=True)
    assert not redirect_uri_matches(f"https://{host}:51234/cb", registered, native=True)
    assert not redirect_uri_matches(f"http://{host}:51234/cb?x=1", registered, native=True)
    assert not redirect_uri_matches(f"http://{host}:bad/cb", registered, native=True)


@pytest.mark.parametrize("requested", ["http://127.0.0.1:9999/cb", "http://127.0.0.1/cb",
                                       "http://127.0.0.1:8766/cb"])
def test_loopback_any_port_is_for_native_apps_only(requested):
    """RFC 8252 §7.3 is for native apps: a confidential web client matches exactly."""
    registered = "http://127.0.0.1:8765/cb"
    assert redirect_uri_matches(registered, registered)
    assert not redirect_uri_matches(requested, registered)


@pytest.mark.parametrize("requested", ["http://127.0.0.1:0/cb", "http://127.0.0.1:8765/cb#",
                                       "http://127.0.0.1:8765/cb#x", "http://127.0.0.1:99999/cb"])
def test_never_port_0_or_a_fragment_even_for_native_apps(requested):
    assert not redirect_uri_matches(requested, "http://127.0.0.1:8765/cb", native=True)
    assert not redirect_uri_matches(requested, "http://127.0.0.1/cb", native=True)


def test_an_empty_fragment_never_matches_the_registered_uri():
    assert not redirect_uri_matches(REGISTERED + "#", REGISTERED)


def test_localhost_name_is_exact_only():
    assert not redirect_uri_matches("http://localhost:9999/cb", "http://localhost:8080/cb")


@pytest.mark.parametrize(("uri", "ok"), [
    ("https://app.example.com/cb", True),
    ("http://localhost:8080/cb", True),
    ("http://127.0.0.1/cb", True),
    ("com.example.app:/oauth2redirect", True),
    ("http://app.example.com/cb", False),
    ("https://app.example.com/cb#frag", False),
    ("https://user:pw@app.example.com/cb", False),
    ("javascript:alert(1)", False),
    ("data:text/html,hi", False),
    ("https:///cb", False),
    ("https://app.example.com/c b", False),
    ("/relative", False),
])
def test_registration_rules(uri, ok):
    assert (registration_problem(uri) is None) is ok


@pytest.mark.parametrize(("target", "ok"), [
    ("/oauth/authorize?client_id=x", True),
    ("/", True),
    ("//evil.example/", False),
    ("/\\evil.example", False),
    ("https://evil.example/", False),
    ("javascript:alert(1)", False),
    ("", False),
    (None, False),
    ("/ok\r\nSet-Cookie: x", False),
])
def test_next_must_be_a_local_path(target, ok):
    assert is_safe_next(target) is ok
