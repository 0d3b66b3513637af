"""``smartech-dumper replay``: send captured payloads again, to a URL or to our own queue.

``--to URL`` re-POSTs each body byte for byte with its original content type,
as Smartech sent it; ``--enqueue`` puts each capture back on the RQ queue.
Both are safe towards our own receiver and worker: processing drops events
whose ``event_id`` it has already written. Captures are streamed, so a replay
of millions of captures runs in the memory of a few. What a replay does is
library code (``receiver.replay``); this module holds the click command.

Failure policy: a bad option is a usage error (exit 2); a replay that cannot
start (Redis away, an unknown id, an unusable resume file) is one error line
(exit 1); the run's own exit status is described in ``EPILOG``.
"""

import sys
from typing import Any, TextIO

import click
from click.core import ParameterSource

from receiver.replay.choices import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ERRORS,
    DEFAULT_TIMEOUT,
    MAX_CONCURRENCY,
    ReplayOptions,
)
from receiver.replay.report import Output
from receiver.replay.selection import read_ids
from receiver.replay.steps import replay_captures
from receiver.replay.targets import build_target
from scripts.errors import load_settings, reading_errors, replay_errors
from scripts.view.options import data_dir_option, filter_options
from scripts.view.output import echo_line, json_line

USER_ENVVAR, PASSWORD_ENVVAR = "DUMPER_REPLAY_USER", "DUMPER_REPLAY_PASSWORD"
CREDENTIAL_PARAMS = ("user", "password")


EPILOG = """\b
Examples:
  # what did Smartech send for customer 9999999997 yesterday, and would go to staging?
  smartech-dumper replay --since yesterday --until today --foreignkey 9999999997 \\
      --to https://staging.example.com/webhook/ --dry-run
  # send it: credentials from the environment, resumable if interrupted
  export DUMPER_REPLAY_USER=smartech DUMPER_REPLAY_PASSWORD=...
  smartech-dumper replay --since yesterday --until today --foreignkey 9999999997 \\
      --to https://staging.example.com/webhook/ --resume replay-9999999997.state
  # process the last two hours again through our own worker
  smartech-dumper replay --since 2h --enqueue

\b
A replay never includes captures received after it started (nor, when resumed,
after the first run started). Exit status: 0 all delivered; 1 a capture failed
(non-2xx answer, connection or Redis error) or the replay could not start;
2 a bad option; 130 interrupted (Ctrl-C or SIGTERM: the captures in flight
are finished and recorded first).
"""


@click.command(epilog=EPILOG)
@data_dir_option
@filter_options()
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Replay the captures of this captures file (.jsonl or .jsonl.gz) instead of the data dir. "
    "Repeatable; filters still apply.",
)
@click.option("--id", "ids", multiple=True, metavar="ID", help="Replay this capture. Repeatable; filters still apply.")
@click.option(
    "--ids-from",
    type=click.File("r"),
    metavar="FILE",
    help="Replay the capture ids listed in FILE, one per line ('-' reads stdin).",
)
@click.option(
    "--to",
    "url",
    metavar="URL",
    help="Target: re-POST each body byte for byte, with its original "
    "content type, to URL (e.g. https://staging.example.com/webhook/).",
)
@click.option("--user", metavar="USER", envvar=USER_ENVVAR, show_envvar=True, help="Basic-auth user for --to.")
@click.option(
    "--password",
    metavar="PASSWORD",
    envvar=PASSWORD_ENVVAR,
    show_envvar=True,
    help="Basic-auth password for --to; prefer the environment variable.",
)
@click.option(
    "--keep-path",
    is_flag=True,
    help="POST to each capture's original path (/webhook/<source>) on the --to host, instead of to URL itself.",
)
@click.option(
    "--enqueue",
    is_flag=True,
    help="Target: put each capture back on the RQ queue (REDIS_URL, DUMPER_QUEUE) for the worker to process again.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    metavar="N",
    help="At most N captures per second (default: as fast as the target answers).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, MAX_CONCURRENCY),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    metavar="N",
    help="Captures sent at the same time.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Seconds to wait for each HTTP answer.",
)
@click.option(
    "--max-errors",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_ERRORS,
    show_default=True,
    metavar="N",
    help="Stop after this many failures in a row (0: never stop).",
)
@click.option("--dry-run", is_flag=True, help="List what would be sent; send nothing.")
@click.option(
    "--resume",
    "state_path",
    type=click.Path(dir_okay=False),
    metavar="STATEFILE",
    help="Record delivered captures in STATEFILE; run again with the same options "
    "to continue an interrupted replay without sending anything twice.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no per-capture lines; only the summary.")
@click.option("-v", "--verbose", is_flag=True, help="A line for every capture, not only for failures.")
@click.option("--json", "as_json", is_flag=True, help="Per-capture lines and the summary as JSON lines.")
@click.pass_context
def replay(ctx: click.Context, ids: tuple[str, ...], ids_from: TextIO | None, **params: Any) -> None:
    """Send captures again: re-POST them to a URL or put them back on the queue."""
    typed = any(ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE for name in CREDENTIAL_PARAMS)
    with replay_errors():
        options = ReplayOptions(ids=read_ids(ids, ids_from), credentials_given=typed, **params)
        target = build_target(options, load_settings)
    with replay_errors(), reading_errors():
        run = replay_captures(options, target, Output(line=echo_line, record=json_line), sys.stderr)
    run.summary()
    ctx.exit(run.status)
