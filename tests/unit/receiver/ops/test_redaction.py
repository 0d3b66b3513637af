"""Same-length redaction: every spelling of a value blanked, lines keep their length and stay JSON."""

import json
from urllib.parse import urlencode

from receiver.ops.redaction import redact_line, redact_lines, spellings

EMAIL = "asha.rao@example.com"


def test_every_spelling_is_found_plain_escaped_and_percent_encoded():
    forms = spellings([EMAIL, "मुंबई", "ab"])
    assert EMAIL.encode() in forms and b"asha.rao%40example.com" in forms
    assert json.dumps("मुंबई")[1:-1].encode() in forms and "मुंबई".encode() in forms
    assert b"ab" not in forms  # too short to search for


def test_a_capture_line_keeps_its_length_and_its_json():
    body = urlencode({"data": json.dumps({"p": [{"EMAIL": EMAIL, "CITY": "Thane"}]})})
    line = json.dumps({"id": "X", "body": body}).encode() + b"\n"
    done = redact_line(line, spellings([EMAIL]))
    assert len(done) == len(line) and EMAIL.encode() not in done and b"example%40" not in done
    assert "Thane" in json.loads(done)["body"]


def test_a_bare_number_becomes_a_number_of_the_same_length():
    line = b'{"foreignkey":9999999997,"x":"9999999997"}'
    done = redact_line(line, spellings(["9999999997"]))
    assert len(done) == len(line) and json.loads(done)["foreignkey"] == 1000000000


def test_only_lines_naming_an_id_change():
    data = b'{"fk":"7000000001","name":"Asha"}\n{"fk":"8000000002","name":"Asha"}\n'
    done, changed = redact_lines(data, spellings(["7000000001"]), spellings(["7000000001", "Asha"]))
    assert changed == 1 and done.split(b"\n")[1] == b'{"fk":"8000000002","name":"Asha"}' and len(done) == len(data)


def test_a_value_that_is_part_of_a_lines_own_id_or_time_is_left_alone_there():
    line = b'{"id":"01KB3Q6E0M8ZJ7V6Q2W5T9X4YR","received_at":"2026-11-29T08:30:01.123Z","name":"Q6E"}'
    done = redact_line(line, spellings(["Q6E", "2026"]))
    assert json.loads(done)["id"] == "01KB3Q6E0M8ZJ7V6Q2W5T9X4YR" and json.loads(done)["received_at"].startswith("2026")
