"""An example python sink: ``callable = "examples.python_sink:handle"`` in a routes file.

The worker calls ``handle(event)`` with each normalised event the route sends
(a dict: ``event_id``, ``foreignkey``, ``webhook_name``, ``raw``…, plus
``route`` and, for a delayed check, ``due_at``). Whatever it raises is
retried at the sink's ``retries`` intervals, then the delivery rests in the
dead letters. The module must be importable by the worker (run it from the
repository, or put this directory on ``PYTHONPATH``).

This one appends the event as one JSON line to the file named by
``PYTHON_SINK_FILE``, or prints it when that is unset.
"""

import json
import os


def handle(event):
    """Append ``event`` to ``$PYTHON_SINK_FILE`` as a JSON line, or print it."""
    line = json.dumps(event, ensure_ascii=False)
    path = os.environ.get("PYTHON_SINK_FILE")
    if not path:
        print(line, flush=True)
        return
    with open(path, "a", encoding="utf-8") as handle_file:
        handle_file.write(line + "\n")
