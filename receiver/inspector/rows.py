"""One capture as a row of the list: the library's JSON summary plus what the page shows of it.

The server-rendered table and the rows the page's script adds live are made
from the same dict, so a capture looks the same either way.
"""

from typing import Any

from flask import current_app, url_for

from receiver.core import customerkey
from receiver.store.filters import Record
from receiver.store.masking import masked_pair
from receiver.store.reading import Reading
from receiver.store.safetext import escape
from receiver.store.summary import status_text, summary
from receiver.store.text import human_size, safe_str

TIME_CHARS = 23  # 2026-11-29 08:30:01.123


def shown(values: list[str]) -> str:
    """Return values for a table cell: comma-separated, visibly escaped."""
    return escape(", ".join(safe_str(value) for value in values))


def customer_url(customer: str) -> str | None:
    """Return the URL of ``customer``'s timeline, naming them by their keyed hash only; None without a key."""
    try:
        key = customerkey.load_key(current_app.config["SETTINGS"].data_dir, create=False)
    except OSError:
        return None  # no key yet (no worker wrote an event): no link; listing never writes to the data dir
    return url_for("customers.page", customer=customerkey.HASH_PREFIX + customerkey.customer_hash(key, customer))


def row(record: Record, analysis: Reading) -> dict[str, Any]:
    """Return the summary of a capture with the texts a table row shows, each escaped for people, masked."""
    customers = analysis.distinct("foreignkey") or analysis.distinct("identity")
    record, analysis = masked_pair(record, analysis, current_app.config.get("MASK"))
    data = summary(record, analysis)
    data["display"] = {
        "time": escape(safe_str(record["received_at"])[:TIME_CHARS].replace("T", " ")),
        "id": escape(record["id"]),
        "source": escape(safe_str(record.get("source") or "-")),
        "webhook_names": shown(data["webhook_names"]) or "-",
        "foreignkeys": shown(data["foreignkeys"]) or "-",
        "events": str(data["events"]),
        "size": escape(human_size(record.get("size"))),
        "status": escape(status_text(analysis)),
    }
    data["url"] = url_for("pages.capture", capture_id=record["id"])
    data["customer_url"] = customer_url(customers[0]) if customers else None  # the timeline, by the id's hash
    return data
