"""The ledger writes the line the analysis encoded, with ``repeat_of`` put in: the same bytes as encoding it anew."""

import pytest

from receiver.capture.normalise import EVENT_FIELDS
from receiver.core.jsonl import encode_line
from receiver.ledger.writer import line_of

TRICKY = ['"repeat_of":null', "c:01E0:0", 'मुंबई \\ "q"', "\u2028"]


@pytest.mark.parametrize("event_id", TRICKY)
@pytest.mark.parametrize("repeat_of", [None, "c:01E1ZZZZZZZZZZZZZZZZZZZZZZ:3", 'g-"repeat_of":null', "Zürich"])
def test_a_line_encoded_before_with_its_repeat_put_in_is_the_line_of_the_final_event(event_id, repeat_of):
    event = dict.fromkeys(EVENT_FIELDS)
    event.update(event_id=event_id, capture_id="01E0", raw={"note": '"repeat_of":null'}, warnings=[])
    encoded = encode_line(event)  # as the analysis encodes it: repeat_of null
    event["repeat_of"] = repeat_of  # as the ledger finds it
    assert line_of(event, encoded) == encode_line(event)


def test_a_record_without_a_line_is_encoded_now():
    record = {"capture_id": "01E0", "reason": "bad"}
    assert line_of(record, None) == encode_line(record)
