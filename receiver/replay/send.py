"""Post the vendor's documented samples as Smartech does, and read what the receiver answers.

Each sample is POSTed as Smartech does it: form-encoded body, basic auth (the
credentials as UTF-8 bytes, which the receiver decodes), no redirect followed.
Smartech accepts only HTTP 200, so any other answer fails that sample.

Failure policy: nothing here prints. A URL without an http(s) scheme raises
``BadOption`` naming the option; a sample that cannot be posted at all raises
``Unreachable`` (naming the URL, the sample and the innermost reason) and
stops the send; other answers are handed back, and ``check_answers`` raises
one ``ReplayError`` listing those that were not 200.
"""

from collections.abc import Callable
from dataclasses import dataclass

import requests
from requests.auth import HTTPBasicAuth

from receiver.core.logsafe import one_line
from receiver.replay import samples
from receiver.replay.errors import BadOption, ReplayError, Unreachable

DEFAULT_TIMEOUT = 10.0
EXPECTED_STATUS = 200
UNAUTHORIZED = 401
AUTH_HINT = " (401: check --user/--password)"
URL_OPTION = "URL"  # how the command line names the URL that ``post_samples`` checks
URL_SCHEMES = ("http://", "https://")
URL_SCHEME_HINT = "must start with http:// or https://"
NO_ID = "-"
USER_AGENT = "smartech-dumper-send"


@dataclass(frozen=True)
class Answer:
    """What the receiver answered to one sample: its HTTP status and the capture id it gave (``-`` if none)."""

    label: str
    status: int
    capture_id: str

    @property
    def accepted(self) -> bool:
        """Say whether Smartech would count this answer as delivered."""
        return self.status == EXPECTED_STATUS


def check_url(url: str, option: str) -> None:
    """Raise ``BadOption`` naming ``option`` unless ``url`` is an http:// or https:// URL."""
    if not url.startswith(URL_SCHEMES):
        raise BadOption(option, URL_SCHEME_HINT)


def capture_id(response: requests.Response) -> str:
    """Return the capture id of a JSON answer, or ``-`` when it has none."""
    try:
        document = response.json()
    except ValueError:
        return NO_ID
    if isinstance(document, dict) and isinstance(document.get("id"), str) and document["id"]:
        return str(document["id"])
    return NO_ID


def reason(exc: BaseException) -> str:
    """Describe a request failure in one short line, from its innermost OS error if any."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return one_line(exc)


def post_sample(session: requests.Session, url: str, body: bytes, timeout: float) -> requests.Response:
    """POST one form-encoded ``body`` to ``url`` without following redirects."""
    # A followed 301/302 turns the POST into a GET, which the receiver answers 200: a false pass.
    return session.post(
        url,
        data=body,
        timeout=timeout,
        allow_redirects=False,
        headers={"Content-Type": samples.CONTENT_TYPE, "User-Agent": USER_AGENT},
    )


def post_samples(
    url: str, user: str, password: str, answered: Callable[[Answer], None], timeout: float = DEFAULT_TIMEOUT
) -> list[Answer]:
    """POST every sample to ``url``, handing each answer to ``answered`` as it comes; return them all."""
    check_url(url, URL_OPTION)
    answers = []
    with requests.Session() as session:
        # Bytes, so a non-Latin-1 password is sent as UTF-8, which the receiver decodes.
        session.auth = HTTPBasicAuth(user.encode("utf-8"), password.encode("utf-8"))
        for label, body in samples.sample_bodies():
            try:
                response = post_sample(session, url, body, timeout)
            except requests.RequestException as exc:
                raise Unreachable(f"cannot reach {url} ({label}): {reason(exc)}") from None
            answer = Answer(label, response.status_code, capture_id(response))
            answered(answer)
            answers.append(answer)
    return answers


def check_answers(answers: list[Answer]) -> None:
    """Raise ``ReplayError`` naming every sample not answered with 200 (with a hint on a 401)."""
    failures = [f"{answer.label}={answer.status}" for answer in answers if not answer.accepted]
    if not failures:
        return
    hint = AUTH_HINT if any(answer.status == UNAUTHORIZED for answer in answers) else ""
    raise ReplayError(
        f"{len(failures)} of {len(answers)} samples not answered with {EXPECTED_STATUS}: {', '.join(failures)}{hint}"
    )
