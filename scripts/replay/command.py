"""``smartech-dumper replay``: send captured payloads again, to a URL or to our own queue.

``--to URL`` re-POSTs each body byte for byte with its original content type,
as Smartech sent it; ``--enqueue`` puts each capture back on the RQ queue.
Both are safe towards our own receiver and worker: processing drops events
whose ``event_id`` it has already written. Captures are streamed, so a replay
of millions of captures runs in the memory of a few.
"""

import sys

import click
from click.core import ParameterSource

from receiver.replay.resume import ResumeError, ResumeState
from receiver.replay.run import ReplayRun, stop_on_signals
from receiver.replay.selection import read_ids, selection_key, stream, up_to_start
from receiver.replay.targets import build_target
from receiver.store.safetext import escape
from receiver.store.select import capture_reader, check_ids_exist
from receiver.store.timeexpr import utc_now
from scripts.errors import reading_errors
from scripts.view.options import data_dir_option, filter_options
from scripts.view.output import warn

USER_ENVVAR, PASSWORD_ENVVAR = "DUMPER_REPLAY_USER", "DUMPER_REPLAY_PASSWORD"
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_ERRORS = 20
MAX_CONCURRENCY = 64


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
    default=1,
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
def replay(
    ctx,
    data_dir,
    filters,
    files,
    ids,
    ids_from,
    url,
    user,
    password,
    keep_path,
    enqueue,
    rate,
    concurrency,
    timeout,
    max_errors,
    dry_run,
    state_path,
    quiet,
    verbose,
    as_json,
):
    """Send captures again: re-POST them to a URL or put them back on the queue."""
    wanted_ids = read_ids(ids, ids_from)
    if enqueue and any(ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE for name in ("user", "password")):
        raise click.UsageError("--user and --password go with --to, not --enqueue")
    if files and wanted_ids:
        raise click.UsageError("--file and --id/--ids-from cannot be combined")
    target = build_target(url, user, password, timeout, keep_path, enqueue)
    state, reader = None, capture_reader(warn)
    with reading_errors():
        try:
            if wanted_ids:
                check_ids_exist(data_dir, wanted_ids, capture_reader())
            if state_path:
                state = ResumeState.open(
                    state_path,
                    selection_key(data_dir, filters, files, wanted_ids),
                    target.describe(),
                    utc_now(),
                    write=not dry_run,
                )
            filters = up_to_start(filters, state.created_at if state else utc_now())
            run = ReplayRun(target, state, as_json=as_json, quiet=quiet, verbose=verbose, dry_run=dry_run)
            show_progress = not quiet and not dry_run and sys.stderr.isatty()
            total = None
            if show_progress:
                total = sum(1 for _ in run.pending(stream(data_dir, filters, files, wanted_ids, capture_reader())))
                run.counts.clear()
            with stop_on_signals(run):
                status = run.run(
                    stream(data_dir, filters, files, wanted_ids, reader),
                    concurrency,
                    rate,
                    max_errors,
                    total,
                    show_progress,
                )
        except ResumeError as exc:
            raise click.ClickException(escape(str(exc))) from None
        finally:
            if state is not None:
                state.close()
            target.close()
    reader.report()
    run.summary(state_path)
    ctx.exit(status)
