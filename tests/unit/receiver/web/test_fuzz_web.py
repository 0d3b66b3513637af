"""Fuzz the web side and what follows it: hostile requests get 200 or a 4xx, never a 5xx; what was
captured ends as events or a reject, never a failed job; the CLI prints it without an escape byte.

Hypothesis generates requests (any bytes as body, odd content types, broken or foreign Authorization
headers, forged X-Forwarded-For, odd paths and query strings) against the app through Flask's test
client, then runs the real job on every capture and the real ``list``/``show`` on the data dir.
The inspector gets hostile query values and ids too (times past year 9999 or before 1970, ids whose
time is past 9999, "²" for a number, forged page positions): each is a 200 or a 4xx.
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
from receiver.core.ids import CROCKFORD
from receiver.inspector import create_app as create_inspector
from receiver.web import create_app
from scripts.view.listing import list_captures
from scripts.view.show import show
from tests.support.capture_factory import days_ago, make_capture, smartech_body, write_captures
from tests.support.helpers import PASSWORD, USER, read_kind
from tests.support.hostile import HOSTILE_ID_PATHS, HOSTILE_QUERIES, OVER_9999, assert_safe

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


IDS = st.text(alphabet=st.sampled_from(CROCKFORD + CROCKFORD.lower()), min_size=26, max_size=26)
KNOWN_VALUES = st.sampled_from(sorted({query.split("=", 1)[1] for query in HOSTILE_QUERIES if "{" not in query}))
TIMES = st.one_of(
    st.sampled_from(["0001-01-01", "9999-12-31", OVER_9999, "0001-01-01T00:00+05:00", "1969-12-31T23:59:59Z"]),
    st.datetimes(timezones=st.timezones()).map(lambda when: when.isoformat()),
    st.dates().map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(lambda n: f"{n}{'smhdw'[abs(n) % 5]}"),
)
QUERY_VALUES = st.one_of(
    KNOWN_VALUES,
    HOSTILE_TEXT,
    TIMES,
    IDS,
    st.builds(lambda i, rank, offset: f"{i}.{rank}.{offset}", IDS, st.integers(0, 2), st.integers(0, 10**15)),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.sampled_from(["²", "١٢", "0x10", "1e3", " 7 "]),
)
QUERY_NAMES = st.sampled_from(["since", "until", "after", "before", "limit", "page", "status", "foreignkey", "source"])
INSPECT_AUTH = {"Authorization": "Basic " + base64.b64encode(b"viewer:look").decode()}


@pytest.fixture
def inspector_client(env, data_dir):
    """Return a test client of the inspector over a day of three captures."""
    write_captures(data_dir, [make_capture(days_ago(1, hour=h), smartech_body()) for h in range(3)])
    return create_inspector({**env, "DUMPER_INSPECT_AUTH": "viewer:look"}).test_client()


def assert_4xx_or_200(answer, url):
    """Fail unless ``answer`` is a 200 or a 4xx."""
    assert answer.status_code == 200 or 400 <= answer.status_code < 500, (url, answer.status_code)


def test_the_known_hostile_inspector_inputs_get_a_4xx_or_a_page(inspector_client):
    for query in HOSTILE_QUERIES:
        for path in ("/", "/api/captures"):
            url = f"{path}?{query.format(id='01M8WPMNM05B7FW4Y312Z4TSCD')}"
            assert_4xx_or_200(inspector_client.get(url, headers=INSPECT_AUTH), url)
    for path in HOSTILE_ID_PATHS:
        assert_4xx_or_200(inspector_client.get(path, headers=INSPECT_AUTH), path)


@pytest.mark.slow  # Hypothesis: seconds at the default examples
@settings(settings.get_profile("web-fuzz"))
@given(
    params=st.lists(st.tuples(QUERY_NAMES, QUERY_VALUES), min_size=1, max_size=4),
    capture_id=st.one_of(IDS, HOSTILE_TEXT.filter(lambda t: "/" not in t and t.strip())),
)
def test_hostile_inspector_queries_and_ids_get_a_4xx_or_a_page(inspector_client, params, capture_id):
    for path in ("/", "/api/captures"):
        answer = inspector_client.get(path, query_string=params, headers=INSPECT_AUTH)
        assert_4xx_or_200(answer, (path, params))
        event(f"list answered {answer.status_code}")
    for path in (f"/captures/{capture_id}", f"/api/captures/{capture_id}", f"/captures/{capture_id}/raw"):
        answer = inspector_client.get(path, headers=INSPECT_AUTH)
        assert_4xx_or_200(answer, path)
        event(f"detail answered {answer.status_code}")
