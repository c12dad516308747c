"""The only-shorter rule for requested lifetimes (Webex)."""

import pytest

from idp.oauth.tokens import shorter


@pytest.mark.parametrize(("requested", "expected"), [
    ("60", 60), ("299", 299), ("300", 300), ("301", 300), ("0", 300), ("-5", 300),
    ("abc", 300), ("", 300), (None, 300), ("1.5", 300), ("99999999999999999999", 300),
])
def test_requested_lifetime_only_shortens(requested, expected):
    assert shorter(requested, 300) == expected
