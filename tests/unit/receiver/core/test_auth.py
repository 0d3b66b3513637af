"""Basic auth is a pure function: several pairs, constant-time compare."""

import base64

from receiver.core.auth import authenticate, parse_basic

PAIRS = (("smartech", "s3cret"), ("rotated", "n3w:pass"))


def basic(user_pass):
    return "Basic " + base64.b64encode(user_pass.encode("utf-8")).decode()


def test_any_configured_pair_is_accepted():
    assert authenticate(basic("smartech:s3cret"), PAIRS) == "smartech"
    assert authenticate(basic("rotated:n3w:pass"), PAIRS) == "rotated"


def test_wrong_or_missing_credentials_are_refused():
    assert authenticate(basic("smartech:wrong"), PAIRS) is None
    assert authenticate(basic("rotated:s3cret"), PAIRS) is None
    assert authenticate(basic("nobody:s3cret"), PAIRS) is None
    assert authenticate(None, PAIRS) is None
    assert authenticate("", PAIRS) is None
    assert authenticate(basic("smartech:s3cret"), ()) is None


def test_malformed_headers_are_refused():
    assert parse_basic("Bearer abc") is None
    assert parse_basic("Basic !!!not-base64") is None
    assert parse_basic("Basic " + base64.b64encode(b"no-colon").decode()) is None
    assert parse_basic("Basic " + base64.b64encode(b"\xff\xfe:x").decode()) is None


def test_scheme_is_case_insensitive_and_non_ascii_works():
    assert parse_basic("basic " + base64.b64encode("ü:päss".encode()).decode()) == ("ü", "päss")
    assert authenticate(basic("ü:päss"), (("ü", "päss"),)) == "ü"
