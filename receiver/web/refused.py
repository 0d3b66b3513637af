"""Keep the body of a post refused for its credentials in the quarantine, before its 401 goes out.

Only with ``DUMPER_QUARANTINE`` on (the default behind ``DUMPER_ALLOWED_IPS``,
so only the allowlisted addresses get here). The body is read within the
usual limits (``DUMPER_MAX_BYTES``, ``DUMPER_BODY_TIMEOUT``); the
``Authorization`` header is never kept (``receiver/ops/quarantine.py``).

Failure policy: nothing here raises. A body that cannot be read, or a
quarantine that cannot be written, is logged; the answer stays the 401.
"""

import logging

from flask import request

from receiver.core.logsafe import field
from receiver.core.settings import Settings
from receiver.ops import quarantine
from receiver.web.body import BodyIncomplete, BodyMalformed, BodyTimeout, BodyTooLarge, read_body

log = logging.getLogger("receiver")
BODY_ERRORS = (BodyIncomplete, BodyMalformed, BodyTimeout, BodyTooLarge)


def keep_refused(settings: Settings, source: str, ip: str, reason: str) -> str | None:
    """Quarantine the current request's body; return the entry's id, or None when it was not kept."""
    try:
        body = read_body(request.environ, settings.max_bytes, settings.body_timeout)
        entry_id = quarantine.keep(
            settings.data_dir,
            settings.quarantine_bytes,
            {
                "source": source,
                "remote_addr": ip,
                "method": request.method,
                "path": request.path,
                "query": request.environ.get("QUERY_STRING", ""),
                "content_type": request.headers.get("Content-Type"),
                "reason": reason,
            },
            request.headers.items(),
            body,
        )
    except BODY_ERRORS as exc:
        log.warning("refused post not quarantined: its body could not be read (%s)", type(exc).__name__)
        return None
    except (OSError, ValueError) as exc:  # ValueError: a data dir path the OS cannot take
        log.error("refused post not quarantined: %s", exc)
        return None
    except Exception:  # a quarantine bug must never turn the 401 into a 5xx
        log.exception("refused post not quarantined: unforeseen error")
        return None
    if entry_id is None:
        log.warning("refused post not quarantined: over DUMPER_QUARANTINE_BYTES=%d", settings.quarantine_bytes)
    else:
        log.warning("quarantined refused post %s from %s (smartech-dumper quarantine list)", entry_id, field(ip))
    return entry_id
