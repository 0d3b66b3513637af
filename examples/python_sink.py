"""An example python sink: append each event as one JSON line to the file named by ``PYTHON_SINK_FILE``.

In the routes file::

    [sinks.local]
    type = "python"
    callable = "examples.python_sink:handle"

The worker imports the module, so start it where that name resolves:
``PYTHONPATH=/path/to/smartech-dumper smartech-dumper worker``. Without
``PYTHON_SINK_FILE`` the events are printed on the worker's standard output.
An exception makes the worker retry the event later (at the sink's
``retries``); the events before it are not sent again.
"""

import json
import os

OUTPUT_VARIABLE = "PYTHON_SINK_FILE"
FILE_MODE = 0o600  # events carry customer PII


def handle(event):
    """Append ``event`` to the output file as one JSON line (or print it)."""
    line = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    path = os.environ.get(OUTPUT_VARIABLE)
    if not path:
        print(line, flush=True)
        return
    with open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE), "a", encoding="utf-8") as out:
        out.write(line + "\n")
