"""``smartech-dumper send``: post the documented samples, like Smartech's test button.

Each sample is POSTed as Smartech does it: form-encoded body, basic auth. One
line is printed per sample (label, HTTP status, capture id); any answer other
than 200 makes the command fail, since Smartech accepts only HTTP 200. The
credentials may come from ``DUMPER_SEND_USER`` / ``DUMPER_SEND_PASSWORD`` so
the password need not appear on the command line.
"""

import click
import requests
from requests.auth import HTTPBasicAuth

from receiver.core.logsafe import one_line
from receiver.replay import samples

DEFAULT_TIMEOUT = 10.0
EXPECTED_STATUS = 200
UNAUTHORIZED = 401
AUTH_HINT = " (401: check --user/--password)"
USER_ENVVAR = "DUMPER_SEND_USER"
PASSWORD_ENVVAR = "DUMPER_SEND_PASSWORD"
URL_SCHEMES = ("http://", "https://")
NO_ID = "-"
USER_AGENT = "smartech-dumper-send"


def capture_id(response):
    """Return the capture id of a JSON answer, or ``-`` when it has none."""
    try:
        document = response.json()
    except ValueError:
        return NO_ID
    if isinstance(document, dict) and isinstance(document.get("id"), str) and document["id"]:
        return document["id"]
    return NO_ID


def reason(exc):
    """Describe a request failure in one short line, from its innermost OS error if any."""
    seen, pending = set(), [exc]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        args = getattr(current, "args", ())
        pending.extend(arg for arg in args if isinstance(arg, BaseException))
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return one_line(exc)


def post_sample(session, url, body, timeout):
    """POST one form-encoded ``body`` to ``url`` without following redirects."""
    # A followed 301/302 turns the POST into a GET, which the receiver answers 200: a false pass.
    return session.post(
        url,
        data=body,
        timeout=timeout,
        allow_redirects=False,
        headers={"Content-Type": samples.CONTENT_TYPE, "User-Agent": USER_AGENT},
    )


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
def send(url, user, password, timeout):
    """Post every Smartech sample to URL and require HTTP 200 for each."""
    if not url.startswith(URL_SCHEMES):
        raise click.BadParameter("must start with http:// or https://", param_hint="URL")
    failures = []
    with requests.Session() as session:
        # Bytes, so a non-Latin-1 password is sent as UTF-8, which the receiver decodes.
        session.auth = HTTPBasicAuth(user.encode("utf-8"), password.encode("utf-8"))
        for label, body in samples.sample_bodies():
            try:
                response = post_sample(session, url, body, timeout)
            except requests.RequestException as exc:
                raise click.ClickException(f"cannot reach {url} ({label}): {reason(exc)}") from None
            click.echo(f"{label:<16} {response.status_code} {capture_id(response)}")
            if response.status_code != EXPECTED_STATUS:
                failures.append(f"{label}={response.status_code}")
    if failures:
        hint = AUTH_HINT if any(item.endswith(f"={UNAUTHORIZED}") for item in failures) else ""
        raise click.ClickException(
            f"{len(failures)} of {len(samples.sample_bodies())} samples not answered with "
            f"{EXPECTED_STATUS}: {', '.join(failures)}{hint}"
        )
    click.echo(f"all samples answered {EXPECTED_STATUS}")
