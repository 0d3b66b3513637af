"""Fuzz the web side and what follows it: hostile requests get 200 or a 4xx, never a 5xx; what was
captured ends as events or a reject, never a failed job; the CLI prints it without an escape byte.

Hypothesis generates requests (any bytes as body, odd content types, broken or foreign Authorization
headers, forged X-Forwarded-For, odd paths and query strings) against the app through Flask's test
client, then runs the real job on every capture and the real ``list``/``show`` on the data dir.
``DUMPER_FUZZ_EXAMPLES`` sets the examples (200 by default).
"""

import base64
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from unittest import mock

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from jobs.process import process_capture
from receiver import create_app
from scripts.view.listing import list_captures
from scripts.view.show import show
from tests.helpers import PASSWORD, USER, read_kind
from tests.hostile import assert_safe

settings.register_profile(
    "web-fuzz",
    max_examples=int(os.environ.get("DUMPER_FUZZ_EXAMPLES", 200)),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
GOOD = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
HOSTILE_TEXT = st.text(
    alphabet=st.sampled_from(
        list('ab{}[]":,=&%+ \\') + ["\x1b", "\x07", "\x9b", "\u202e", "\x00", "\x7f", "\n", "é", "म"]
    ),
    max_size=40,
)
AUTHS = st.one_of(
    st.just(GOOD),
    st.just(GOOD),
    st.just(GOOD),
    st.just(GOOD),
    st.none(),  # mostly let them in st.binary(max_size=30).map(lambda raw: raw.decode("latin-1")),
    st.builds(lambda t: "Basic " + t, HOSTILE_TEXT),
    st.builds(lambda raw: "Basic " + base64.b64encode(raw).decode(), st.binary(max_size=30)),
)
BODIES = st.one_of(
    st.binary(max_size=300),
    HOSTILE_TEXT.map(str.encode),
    st.builds(lambda t: ("data=" + t).encode("utf-8", "surrogatepass"), HOSTILE_TEXT),
    st.builds(lambda t: json.dumps({"p": [{"webhook_name": t, "guid": t}]}).encode(), HOSTILE_TEXT),
)
TYPES = st.one_of(
    st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain", ""]), HOSTILE_TEXT
)
PATHS = st.sampled_from(
    [
        "/webhook",
        "/webhook/",
        "/webhook/crm",
        "/webhook//a",
        "/webhook/%2fx",
        "/webhook/a/b",
        "/webhook/default",
        "/webhook/" + "x" * 70,
        "/nope",
    ]
)
FORWARDED = st.one_of(st.none(), HOSTILE_TEXT, st.just("198.51.100.7"), st.just("10.0.0.1, 198.51.100.7"))


@contextmanager
def environment(values):
    """Set environment variables while the block runs (the job reads its settings from there)."""
    with mock.patch.dict(os.environ, values):
        yield


@pytest.mark.slow  # Hypothesis: seconds at the default examples
@settings(settings.get_profile("web-fuzz"))
@given(requests_=st.lists(st.tuples(PATHS, AUTHS, BODIES, TYPES, FORWARDED, HOSTILE_TEXT), min_size=1, max_size=4))
def test_hostile_requests_end_as_200_or_4xx_then_events_or_rejects_then_safe_text(env, requests_):
    data_dir = tempfile.mkdtemp(prefix="fuzz-web-")
    try:
        app = create_app({**env, "DUMPER_DATA_DIR": data_dir, "DUMPER_TRUSTED_PROXIES": "1"})
        client = app.test_client()
        for path, auth, body, content_type, forwarded, query in requests_:
            headers = {k: v for k, v in (("Authorization", auth), ("X-Forwarded-For", forwarded)) if v is not None}
            try:
                answer = client.post(
                    path, data=body, headers=headers, content_type=content_type or None, query_string=query
                )
            except ValueError:
                continue  # the test client itself refuses header text no HTTP client could send
            assert answer.status_code == 200 or 400 <= answer.status_code < 500, answer.status_code
            event(f"answered {answer.status_code}")
            assert "Location" not in answer.headers
        captures = read_kind(data_dir, "captures")
        with environment({**env, "DUMPER_DATA_DIR": data_dir}):
            for record in captures:
                summary = process_capture(record)  # raises only for an environment fault: none here
                assert summary["capture_id"] == record["id"]
                event("rejected" if summary.get("rejected") else f"{min(summary['events'], 2)}+ events")
        listing = CliRunner().invoke(list_captures, ["--data-dir", data_dir])
        assert listing.exit_code == 0 and "Traceback" not in listing.output
        assert_safe(listing.stdout)
        for record in captures:
            shown = CliRunner().invoke(show, [record["id"], "--raw", "--data-dir", data_dir])
            assert shown.exit_code in (0, 1) and "Traceback" not in shown.output
            assert_safe(shown.stdout)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
