"""The routes file: validation names the route and the key; matching and planning follow the contract."""

import pytest
from click.testing import CliRunner

from jobs.routing.plan import plan
from receiver.routes.config import RoutesError, load
from scripts.cli import main

EXAMPLES = (
    "examples/insurance-hot-leads.toml",
    "examples/travel-no-booking.toml",
    "examples/ecommerce-abandoned-cart.toml",
    "examples/callcenter-limits.toml",
)
SINKS = """
[sinks.cc]
type = "http"
url = "http://127.0.0.1:9/x"
[sinks.db]
type = "sql"
"""


def routes_file(tmp_path, text):
    path = tmp_path / "routes.toml"
    path.write_text(SINKS + text)
    return str(path)


def event(**fields):
    base = {
        "event_id": "e-1",
        "received_at": "2026-11-29T10:00:00.000Z",
        "source": "default",
        "panel": "p",
        "webhook_name": "SMS_CLICK",
        "channel": "sms",
        "activity": "click",
        "foreignkey": "9999999997",
        "identity": None,
        "journey_name": None,
        "msgid": None,
        "custom_params": {"leadscore": "s2"},
        "att_params": {"CITY": "Thane&Kalyan"},
        "payload_params": None,
        "raw": {},
    }
    base.update(fields)
    return base


@pytest.mark.parametrize(
    "route, error",
    [
        ('name = "r"\nto = ["cc"]\nwhen = { channell = "sms" }', "route 'r': when.channell: unknown field"),
        (
            'name = "r"\nto = ["cc"]\nwhen = { channel = { like = "sms" } }',
            "route 'r': when.channel.like: unknown operator",
        ),
        ('name = "r"\nto = ["nowhere"]', "route 'r': to: unknown sink 'nowhere'"),
        ('name = "r"\nto = ["cc"]\nqueue = "urgent"', "route 'r': queue: unknown queue 'urgent'"),
        ('name = "r"\nto = ["cc"]\nafter = "soon"', "route 'r': after: bad duration 'soon'"),
        (
            'name = "r"\nto = ["cc"]\nwhen = { webhook_name = { matches = "(" } }',
            "route 'r': when.webhook_name.matches: bad regular expression",
        ),
        ('name = "r"\nto = ["cc"]\nunless = { activity = "open" }', "route 'r': unless: goes with after"),
        ('name = "r"\nto = ["cc"]\nafter = "1m"\nkey = "colour"', "route 'r': key: colour: unknown field"),
        ('name = "r"\nto = ["cc"]\ncolour = "red"', "route 'r': unknown key 'colour'"),
        ('to = ["cc"]', "route 1: name: every route needs a name"),
        ('name = "r"\nto = ["cc"]\n[[routes]]\nname = "r"\nto = ["db"]', "route 'r': name: used by 2 routes"),
    ],
)
def test_a_bad_route_is_named_with_its_key(tmp_path, route, error):
    path = routes_file(tmp_path, "[[routes]]\n" + route)
    with pytest.raises(RoutesError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}: {error}")


def test_a_bad_sink_is_named(tmp_path):
    path = tmp_path / "routes.toml"
    path.write_text('[sinks.cc]\ntype = "ftp"\n')
    with pytest.raises(RoutesError, match="sink 'cc': type must be one of sql, http, python"):
        load(str(path))
    path.write_text('[sinks.cc]\ntype = "http"\nurl = "http://x"\nretries = "later"\n')
    with pytest.raises(RoutesError, match="sink 'cc': retries: bad duration 'later'"):
        load(str(path))


@pytest.mark.parametrize(
    "when, matched",
    [
        ({"channel": "sms"}, True),
        ({"channel": ["email", "sms"]}, True),
        ({"channel": "email"}, False),
        ({"custom_params.leadscore": {"in": ["s1", "s2"]}}, True),
        ({"foreignkey": {"eq": 9999999997}}, True),  # a number matches its text
        ({"payload_params.items.price_s": {"gte": 5000}}, True),  # any element of a list, numbers from text
        ({"payload_params.items.price_s": {"gt": 9990.91}}, False),
        ({"payload_params.items.category_s": "lifestyle"}, True),
        ({"att_params.CITY": {"contains": "Kalyan"}}, True),
        ({"att_params.CITY": {"matches": "^Thane&"}}, True),
        ({"identity": {"exists": False}}, True),
        ({"journey_name": {"ne": "x"}}, True),
        ({"custom_params.missing": {"exists": True}}, False),
        ({"raw.guid": "g-9"}, True),
        ({"channel": "sms", "activity": "open"}, False),  # every key must hold
    ],
)
def test_conditions(tmp_path, when, matched):
    lines = [f'"{key}" = {toml_value(value)}' for key, value in when.items()]
    path = routes_file(tmp_path, f'[[routes]]\nname = "r"\nto = ["cc"]\nwhen = {{ {", ".join(lines)} }}\n')
    sample = event(
        payload_params={"items": [{"price_s": "120"}, {"price_s": "9990.91", "category_s": "lifestyle"}]},
        raw={"guid": "g-9"},
    )
    assert bool(plan(load(path), [sample]).deliveries) is matched


def test_a_route_can_leave_out_repeats(tmp_path):
    path = routes_file(tmp_path, '[[routes]]\nname = "r"\nto = ["cc"]\nwhen = { repeat_of = { exists = false } }\n')
    first, repeat = event(event_id="c:A:0"), event(event_id="c:B:0", repeat_of="c:A:0")
    assert [[e["event_id"] for e in sent] for sent in plan(load(path), [first, repeat]).deliveries.values()] == [
        ["c:A:0"]
    ]


def toml_value(value):
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value).replace("'", '"')


def test_every_matching_route_fires_once_per_sink_on_the_highest_priority(tmp_path):
    path = routes_file(
        tmp_path,
        """
[[routes]]
name = "all-to-db"
to = ["db"]
queue = "low"
[[routes]]
name = "hot"
when = { activity = "click" }
to = ["cc", "db"]
queue = "high"
[[routes]]
name = "nothing"
when = { activity = "bounce" }
to = ["cc"]
""",
    )
    planned = plan(load(path), [event(), event(event_id="e-2", activity="open")])
    assert sorted(planned.deliveries) == [("high", "cc"), ("high", "db"), ("low", "db")]
    assert [e["event_id"] for e in planned.deliveries[("high", "db")]] == ["e-1"]
    assert planned.deliveries[("high", "db")][0]["route"] == "all-to-db"  # the first route that names the sink
    assert [e["event_id"] for e in planned.deliveries[("low", "db")]] == ["e-2"]


def test_a_delayed_route_plans_a_check_and_notes_follow_ups(tmp_path):
    path = routes_file(
        tmp_path,
        """
[[routes]]
name = "no-booking"
when = { webhook_name = "Flight Search" }
after = "30m"
unless = { webhook_name = "Flight Booked" }
to = ["cc"]
""",
    )
    routes = load(path)
    searched = plan(routes, [event(webhook_name="Flight Search")])
    assert [(route.name, e["event_id"]) for route, e in searched.checks] == [("no-booking", "e-1")]
    assert not searched.deliveries
    booked = plan(routes, [event(webhook_name="Flight Booked")])
    assert [(route.name, value) for route, value, _ in booked.arrivals] == [("no-booking", "9999999997")]


def test_routes_check_prints_a_line_per_route_and_names_a_bad_file(tmp_path):
    for example in EXAMPLES:
        result = CliRunner().invoke(main, ["routes", "check", example])
        assert result.exit_code == 0, result.output
        assert result.output.strip().endswith("OK") and result.output.count("\nroute ") >= 1
    bad = routes_file(tmp_path, '[[routes]]\nname = "r"\nto = ["cc"]\nqueue = "urgent"\n')
    result = CliRunner().invoke(main, ["routes", "check", bad])
    assert result.exit_code == 1 and "route 'r': queue: unknown queue 'urgent'" in result.output


def test_worker_and_serve_refuse_a_bad_routes_file(tmp_path, env):
    bad = routes_file(tmp_path, '[[routes]]\nname = "r"\nto = ["cc"]\nwhen = { colour = "red" }\n')
    for command in (["worker", "--burst"], ["serve"], ["check"]):
        result = CliRunner().invoke(main, command, env={**env, "DUMPER_ROUTES": bad})
        assert result.exit_code == 1, (command, result.output)
        assert "route 'r': when.colour: unknown field" in result.output


ROUTE_TO = '[[routes]]\nname = "r"\nto = ["{sink}"]\n'


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[sinks.x]\ntype = "http"\nurl = "http://h/"\nheaders = "X-A: b"\n', "sink 'x': headers: expected a table"),
        ('[sinks.x]\ntype = "http"\nurl = "http://h/"\nheaders = { "X A" = "b" }\n', "sink 'x': headers: 'X A' is not"),
        ('[sinks.x]\ntype = "http"\nurl = "ftp://x/"\n', "sink 'x': url: 'ftp://' is not http:// or https://"),
        ('[sinks.x]\ntype = "http"\nurl = "http:///path"\n', "sink 'x': url: no host"),
        ('[sinks.x]\ntype = "http"\nurl = "http://h/"\nauth = { basic = "alone" }\n', "sink 'x': auth.basic: expected"),
        ('[sinks.x]\ntype = "sql"\nurl = 5\n', "sink 'x': url: expected a SQLAlchemy URL, as a string"),
        ('[sinks.x]\ntype = "sql"\nurl = "mysql+nodriver://"\n', "sink 'x': url: no SQLAlchemy dialect and driver"),
        ('[sinks.x]\ntype = "sql"\nurl = "oracle://u:p@h/db"\n', "sink 'x': url: no SQLAlchemy dialect and driver"),
        ('[sinks.x]\ntype = "sql"\ntable = 3\n', "sink 'x': table: expected a table name"),
        (
            SINKS + ROUTE_TO.format(sink="cc") + 'when = { "payload_params.day" = 2026-01-01 }\n',
            "route 'r': when.payload_params.day: a TOML date or time never matches",
        ),
        (
            SINKS + ROUTE_TO.format(sink="cc") + 'when = { "payload_params.at" = { in = [1979-05-27T07:32:00Z] } }\n',
            "route 'r': when.payload_params.at: a TOML date or time never matches",
        ),
        (
            SINKS + ROUTE_TO.format(sink="cc") + 'when = { "payload_params.items.0.price" = { gte = 5000 } }\n',
            "route 'r': when.payload_params.items.0.price: '0' indexes nothing",
        ),
        (
            SINKS + ROUTE_TO.format(sink="cc") + "when = { channel = [] }\n",
            "route 'r': when.channel.in: expected a list of values (an empty one never matches)",
        ),
    ],
    ids=[
        "headers-string",
        "header-name",
        "ftp",
        "no-host",
        "basic-no-colon",
        "sql-url-number",
        "sql-no-driver-plugin",
        "sql-driver-not-installed",
        "sql-table-number",
        "toml-date",
        "toml-datetime-in-list",
        "list-index",
        "empty-list",
    ],
)
def test_routes_check_refuses_what_could_never_deliver_or_match_naming_file_place_and_key(tmp_path, text, error):
    path = tmp_path / "routes.toml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["routes", "check", str(path)])
    assert result.exit_code == 1, result.output
    [line] = result.output.strip().splitlines()
    assert f"{path}: {error}" in line


def test_routes_check_accepts_what_only_the_environment_can_tell(tmp_path):
    path = tmp_path / "routes.toml"
    path.write_text(
        '[sinks.cc]\ntype = "http"\nurl = "${CC_URL}"\nheaders = { "X-Key" = "${KEY}" }\nauth = { basic = "${AUTH}" }\n'
        '[sinks.db]\ntype = "sql"\nurl = "${DATABASE_URL}"\n'
        '[sinks.pg]\ntype = "sql"\nurl = "postgresql://u:${PG_PASSWORD}@db.example/events"\n'
        '[[routes]]\nname = "r"\nto = ["cc", "db", "pg"]\nwhen = { "payload_params.items.price" = { gte = 5000 } }\n'
    )
    result = CliRunner().invoke(main, ["routes", "check", str(path)])
    assert result.exit_code == 0, result.output


def test_routes_check_prints_no_password_or_query_value_of_a_url(tmp_path):
    path = tmp_path / "routes.toml"
    path.write_text('[sinks.cc]\ntype = "http"\nurl = "https://u:Pa55word@h.example/x?token=T0ken&team=ops"\n')
    result = CliRunner().invoke(main, ["routes", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "sink cc: http https://u:***@h.example/x?token=***&team=***" in result.output
    assert "Pa55word" not in result.output and "T0ken" not in result.output
