"""Every answer is in the contract, whatever bytes a client sends: a real `serve`, raw sockets."""

import base64
import os
import socket
import time

import pytest
import requests

from tests.support.helpers import PASSWORD, USER, read_kind
from tests.support.procs import FORM, Web, output_of

pytestmark = pytest.mark.slow
GOOD_AUTH = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


@pytest.fixture(scope="module")
def web(tmp_path_factory, redis_server):
    data_dir = str(tmp_path_factory.mktemp("contract") / "var")
    env = {
        **os.environ,
        "REDIS_URL": redis_server,
        "DUMPER_DATA_DIR": data_dir,
        "DUMPER_BASIC_AUTH": f"{USER}:{PASSWORD}",
        "DUMPER_FSYNC": "false",
        "DUMPER_FORWARDER": "false",
        "DUMPER_TRUSTED_PROXIES": "1",
        "DUMPER_MAX_BYTES": "100000",
    }
    server = Web(env, workers=1)
    server.data_dir = data_dir
    yield server
    server.stop()


def exchange(web, raw, wait=5.0):
    """Send raw bytes and return everything the server answers until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", web.port), timeout=wait) as sock:
        sock.sendall(raw)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


def status_of(answer):
    return int(answer.split(b" ", 2)[1])


def test_non_ascii_bytes_in_authorization_are_a_401(web):
    answer = exchange(
        web,
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \xff\xfe\xe9\r\n"
        b"Content-Length: 2\r\nConnection: close\r\n\r\n{}",
    )
    assert status_of(answer) == 401


@pytest.mark.parametrize("body", [b"5\r\nhello\r\nzz\r\n", b"3\r\nabcdef\r\n0\r\n\r\n"])
def test_malformed_chunked_framing_is_a_400(web, body):
    answer = exchange(
        web,
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
        + GOOD_AUTH.encode()
        + b"\r\nContent-Type: "
        + FORM["Content-Type"].encode()
        + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        + body,
    )
    assert status_of(answer) == 400


def test_an_unknown_transfer_coding_is_a_400_not_gunicorns_501(web):
    answer = exchange(
        web,
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
        + GOOD_AUTH.encode()
        + b"\r\nTransfer-Encoding: gzip, chunked, zstd\r\nConnection: close\r\n\r\n0\r\n\r\n",
    )
    assert status_of(answer) == 400


def test_options_is_not_an_open_door(web):
    answer = requests.options(web.url + "/webhook", timeout=10)
    assert answer.status_code == 405


def test_a_chunked_body_cut_off_gives_no_5xx_and_captures_nothing(web):
    before = len(read_kind(web.data_dir, "captures"))
    with socket.create_connection(("127.0.0.1", web.port), timeout=5) as sock:
        sock.sendall(
            b"POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
            + GOOD_AUTH.encode()
            + b"\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly-half"
        )
        sock.shutdown(socket.SHUT_WR)  # the client goes away mid-chunk
        answer = sock.recv(65536)
    assert not answer or status_of(answer) == 400
    assert len(read_kind(web.data_dir, "captures")) == before
    assert " 500 " not in output_of(web.proc) and "Traceback" not in output_of(web.proc)


@pytest.mark.parametrize(
    "path",
    ["/webhook//a", "/webhook/%2fetc", "/webhook/a/b", "/webhook/..%2f..%2fetc", "/webhook/" + "x" * 65, "/Webhook"],
)
def test_odd_paths_are_404_and_never_redirect(web, path):
    answer = requests.post(
        web.url + path,
        data="data=%7B%7D",
        headers={**FORM, "Host": "evil.example"},
        auth=(USER, PASSWORD),
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 404 and "Location" not in answer.headers


def test_the_default_source_by_name_is_captured_not_redirected(web):
    answer = requests.post(
        web.url + "/webhook/default?campaign=x%20y&n=%C3%A9",
        data="data=%7B%7D",
        headers=FORM,
        auth=(USER, PASSWORD),
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 200
    [record] = [r for r in read_kind(web.data_dir, "captures") if r["id"] == answer.json()["id"]]
    assert record["source"] == "default" and record["query"] == "campaign=x%20y&n=%C3%A9"


@pytest.mark.parametrize(
    "headers, code",
    [
        (b"Authorization: Basic d3Jvbmc6d3Jvbmc=\r\n", 401),
        (b"Authorization: Basic " + GOOD_AUTH.encode() + b"\r\n", 413),
    ],
)
def test_a_refusal_closes_the_connection_without_reading_the_declared_body(web, headers, code):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as sock:
        sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\n" + headers + b"Content-Length: 5000000\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):  # the server must close: nothing of the 5 MB was sent
            answer += chunk
    assert status_of(answer) == code and b"connection: close" in answer.lower()
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "forged", [b"10.9.9.9%junk client=6.6.6.6 reason=ok", b"1.2.3.4\xc2\x85", b"\xc2\x9b31m", b"x\r\n reason=injected"]
)
def test_a_forged_client_address_is_refused_and_cannot_write_the_log(web, forged):
    answer = exchange(
        web,
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: " + forged + b"\r\n"
        b"Authorization: Basic " + GOOD_AUTH.encode() + b"\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\n{}",
    )
    assert status_of(answer) in (400,)  # a broken header line may also be refused by gunicorn itself: 400
    log = output_of(web.proc)
    assert "client=6.6.6.6" not in log and "reason=injected" not in log and "\x9b" not in log and "\x85" not in log


def test_client_bytes_quoted_in_a_refusal_reason_cannot_write_the_log(web):
    answer = exchange(
        web,
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
        + GOOD_AUTH.encode()
        + b"\r\nTransfer-Encoding: chunked\r\n\r\n\x1b]0;pwned\x07 reason=ok\r\nabc\r\n0\r\n\r\n",
    )
    assert status_of(answer) == 400
    lines = [line for line in output_of(web.proc).splitlines() if "refused=400" in line and "framing" in line]
    assert lines and all("\x1b" not in line and "\x07" not in line and line.count("reason=") == 1 for line in lines)
