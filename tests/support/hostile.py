"""Captures whose every field and payload value tries to take over the terminal that shows them."""

import os
import pty
import re
import subprocess
import sys

from receiver.replay import samples
from receiver.store.select import id_day
from tests.support.capture_factory import FORM, make_capture
from tests.support.helpers import append_records, read_terminal

BIN = os.path.dirname(sys.executable)
# Sets the window title, clears the screen, a one-character CSI, a right-to-left override, NUL, DEL, CR.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u202e\x00\x7f\rtwo\nlines\tand a tab"
CITY, PLACE = "मुंबई", "Thane&Kalyan"
VALUE = f"{CITY}{HOSTILE}{PLACE}"
NOT_UTF8 = b"data=\xff\xfe" + HOSTILE.encode()
# What a command must never write: controls but newline and tab, DEL, C1, bidi and other format characters,
# line and paragraph separators, lone surrogates.
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u200b\u200e\u200f\u202a-\u202e\u2028\u2029"
    "\u2060-\u2069\ufeff\ud800-\udfff]"
)
ESCAPED = ("\\x1b]0;pwned\\x07", "\\x1b[2J", "\\x9b31m", "\\u202e", "\\x00", "\\x7f", "\\r")
JSON_ESCAPED = ("\\u001b]0;pwned\\u0007", "\\u001b[2J", "\\u009b31m", "\\u202e", "\\u0000", "\\u007f")
COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def assert_safe(text, one_per_line=False):
    """Fail if ``text`` holds a character a terminal acts on; ``one_per_line`` also refuses tabs."""
    found = sorted(set(FORBIDDEN.findall(text)) | ({"\t"} if one_per_line and "\t" in text else set()))
    assert not found, f"unsafe characters {found!r} in output:\n{text!r}"


def assert_visible(text, forms=ESCAPED, natives=(CITY, PLACE)):
    """Fail unless every escape in ``forms`` and every native text in ``natives`` shows in ``text``."""
    missing = [form for form in (*forms, *natives) if form not in text]
    assert not missing, f"{missing!r} not in output:\n{text}"


def hostile_payload():
    """Return a Smartech payload whose panel name and every string value carry ``VALUE``."""
    event = samples.channel_event("SMS_CLICK")
    event["webhook_name"] = event["journey_name"] = VALUE
    event["event_params"].update(foreignkey=VALUE, identity=VALUE, guid=VALUE)
    event["custom_params"]["link"] = VALUE
    event["att_params"]["CITY"] = VALUE
    return {VALUE: [event]}


def hostile_captures(when):
    """Return four captures received from ``when`` on, every field hostile.

    A decodes (hostile payload), B is rejected (hostile content type and body), C is not UTF-8,
    D has an id and a receive time that are no ULID and no time at all.
    """
    decodes = make_capture(
        when, samples.encode_body(hostile_payload()), content_type=f"{FORM}; x={VALUE}", source=VALUE, user=VALUE
    )
    decodes.update(remote_addr=VALUE, method=VALUE, path=VALUE, received_at=decodes["received_at"] + VALUE)
    rejected = make_capture(when.replace(second=1), VALUE.encode(), content_type=VALUE, source=VALUE, user=VALUE)
    not_utf8 = make_capture(when.replace(second=2), NOT_UTF8, source=VALUE)
    forged = dict(decodes, id=VALUE, received_at=VALUE + decodes["received_at"])
    return [decodes, rejected, not_utf8, forged]


def write_day(data_dir, records):
    """Append ``records`` to the captures file of the first one's id, whatever their own times say."""
    append_records(data_dir, "captures", records, day=id_day(records[0]["id"]))
    return records


def run_on_a_tty(args, env=None):
    """Run ``smartech-dumper args`` with stdout on a pseudo-terminal; return (exit status, text, stderr)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [os.path.join(BIN, "smartech-dumper"), *args], stdout=follower, stderr=subprocess.PIPE, env=env
    )
    os.close(follower)
    output = read_terminal(leader)
    status = proc.wait(timeout=30)
    return status, output.replace("\r\n", "\n"), proc.stderr.read().decode()


def no_colour_env():
    """Return the environment with colour switched off, so any ESC on a terminal came from a payload."""
    return {**os.environ, "NO_COLOR": "1"}


# What a web page must show as text and never run: a script element and an attribute break-out.
HTML = '<script>window.__pwned("script")</script>"><img src=x onerror=window.__pwned("img")>\'><b>bold</b>'
HTML_VALUE = f"{CITY}{HTML}{HOSTILE}"


def html_payload():
    """Return a Smartech payload whose panel name and every string value carry ``HTML_VALUE``."""
    event = samples.channel_event("SMS_CLICK")
    event["webhook_name"] = event["journey_name"] = HTML_VALUE
    event["event_params"].update(foreignkey=HTML_VALUE, identity=HTML_VALUE, guid=HTML_VALUE, ts=HTML_VALUE)
    event["custom_params"]["link"] = HTML_VALUE
    event["att_params"]["CITY"] = HTML_VALUE
    return {HTML_VALUE: [event]}


def html_captures(when):
    """Return captures whose every field carries HTML: one decodes, one is rejected, one is not UTF-8."""
    decodes = make_capture(
        when, samples.encode_body(html_payload()), content_type=f"{FORM}; x={HTML_VALUE}", user=HTML_VALUE
    )
    decodes.update(remote_addr=HTML_VALUE, method=HTML_VALUE, path=HTML_VALUE, query=HTML_VALUE, source=HTML_VALUE)
    rejected = make_capture(when.replace(second=1), HTML_VALUE.encode(), content_type=HTML_VALUE, user=HTML_VALUE)
    not_utf8 = make_capture(when.replace(second=2), b"data=\xff" + HTML.encode(), content_type=HTML_VALUE)
    return [decodes, rejected, not_utf8]


# Query strings and ids that once made the inspector answer 500 (issue 20, item 6): each must get a 4xx or a page.
OVER_9999 = "9999-12-31T23:59:59-05:00"  # past the last datetime once it is turned into UTC
LATE_IDS = ("Z" * 26, "7" + "Z" * 25, "8" + "0" * 25)  # their times are after year 9999 (or past 128 bits)
HOSTILE_QUERIES = (
    f"until={OVER_9999}",
    f"since={OVER_9999}",
    f"after={OVER_9999}",
    "since=0001-01-01",
    "until=0001-01-01T00:00:00%2B05:00",
    "after=0001-01-01",
    *(f"before={capture_id}" for capture_id in LATE_IDS),
    *(f"after={capture_id}" for capture_id in LATE_IDS),
    "limit=%C2%B2",  # "²": str.isdigit() says yes, int() says no
    "page=%C2%B2",
    "limit=99999999999999999999999",
    "before={id}.1.99999999999999",  # a position past the end of the file
    "before={id}.1.5",  # a position in the middle of a line
    "before={id}.0.0",  # a .gz position for a day that has none
)
HOSTILE_ID_PATHS = tuple(
    f"/{api}captures/{capture_id}{raw}"
    for capture_id in LATE_IDS
    for api, raw in (("", ""), ("api/", ""), ("", "/raw"))
)
