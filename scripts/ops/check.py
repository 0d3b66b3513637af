"""``smartech-dumper check``: say whether this host's settings, Redis and data dir are ready.

Prints one line per finding of ``receiver.ops.checks`` (``OK``, ``WARN``,
``FAIL`` or ``SKIP``) as it comes, and exits 1 if any check failed.

Failure policy: every problem is a line of the report, never a traceback;
each detail is escaped, since it quotes settings values and error texts.
"""

import click

from receiver.ops.checks import FAIL, Finding, run_checks
from receiver.store.safetext import escape
from scripts.variables import known_variables


def report_line(finding: Finding) -> str:
    """Return one result line: the status, what was checked, and the escaped detail."""
    return f"{finding.status:<4} {finding.name}: {escape(finding.detail)}"


@click.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check settings, Redis and the data dir; exit 1 on any failure."""
    failed = False
    for finding in run_checks(known_variables(ctx.find_root().command)):
        click.echo(report_line(finding))
        failed = failed or finding.status == FAIL
    ctx.exit(1 if failed else 0)
