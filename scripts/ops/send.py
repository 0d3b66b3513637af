"""``smartech-dumper send``: post the documented samples, like Smartech's test button.

Each sample is POSTed as Smartech does it (``receiver.replay.send``). One line
is printed per sample (label, HTTP status, capture id); any answer other than
200 makes the command fail, since Smartech accepts only HTTP 200. The
credentials may come from ``DUMPER_SEND_USER`` / ``DUMPER_SEND_PASSWORD`` so
the password need not appear on the command line.

Failure policy: a URL that is not http(s) is a usage error (exit 2); a
receiver that cannot be reached, or a sample not answered with 200, ends the
command with one error line (exit 1).
"""

import click

from receiver.replay.send import DEFAULT_TIMEOUT, EXPECTED_STATUS, Answer, check_answers, post_samples
from scripts.errors import replay_errors

USER_ENVVAR = "DUMPER_SEND_USER"
PASSWORD_ENVVAR = "DUMPER_SEND_PASSWORD"
LABEL_WIDTH = 16


def print_answer(answer: Answer) -> None:
    """Print one sample's line: label, HTTP status, capture id."""
    click.echo(f"{answer.label:<{LABEL_WIDTH}} {answer.status} {answer.capture_id}")


@click.command()
@click.argument("url")
@click.option(
    "--user",
    "-u",
    required=True,
    envvar=USER_ENVVAR,
    show_envvar=True,
    help="Basic-auth user name, as configured in the Smartech webhook.",
)
@click.option(
    "--password",
    "-p",
    required=True,
    envvar=PASSWORD_ENVVAR,
    show_envvar=True,
    help="Basic-auth password; prefer the environment variable over the command line.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for each answer.",
)
def send(url: str, user: str, password: str, timeout: float) -> None:
    """Post every Smartech sample to URL and require HTTP 200 for each."""
    with replay_errors():
        check_answers(post_samples(url, user, password, print_answer, timeout))
    click.echo(f"all samples answered {EXPECTED_STATUS}")
