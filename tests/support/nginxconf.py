"""Render the shipped deploy/nginx.conf for a test and run it as a private, foreground nginx."""

import getpass
import os
import shutil
import subprocess
import time

import requests

from tests.support.helpers import ROOT

SHIPPED = os.path.join(ROOT, "deploy", "nginx.conf")
UPSTREAMS = ("10.0.0.11:8000", "10.0.0.12:8000")  # the shipped conf's two receivers


class NginxNotFound(RuntimeError):
    """No nginx binary on PATH."""


def binary():
    """Return the nginx binary (Debian puts it in /usr/sbin, which a user's PATH may lack)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise NginxNotFound("no nginx on PATH or in /usr/sbin; `make install` installs it")
    return found


def make_cert(workdir):
    """Write a self-signed certificate for 127.0.0.1 and localhost; return (cert path, key path)."""
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-days", "2", "-subj", "/CN=localhost", "-keyout", key, "-out", cert]
        + ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


def replace_once(text, old, new):
    """Replace ``old`` by ``new``, failing unless ``old`` occurs exactly once (the shipped file changed)."""
    assert text.count(old) == 1, f"deploy/nginx.conf: expected {old!r} exactly once"
    return text.replace(old, new)


def render(workdir, port, upstream_ports, cert, key):
    """Return the shipped conf with this test's paths, listen port and receivers; nothing else changes."""
    with open(SHIPPED, encoding="utf-8") as handle:
        text = localise(handle.read(), workdir, port)
    text = replace_once(text, "/etc/ssl/smartech-dumper/fullchain.pem", cert)
    text = replace_once(text, "/etc/ssl/smartech-dumper/privkey.pem", key)
    for shipped, test_port in zip(UPSTREAMS, upstream_ports, strict=True):
        text = replace_once(text, f"server {shipped} ", f"server 127.0.0.1:{test_port} ")
    return text


def localise(text, workdir, port):
    """Return the conf ``text`` with its user, pid, logs and temp paths in ``workdir`` and listening on ``port``."""
    # As root, nginx's workers run as `user`; ours must reach the test's private directories.
    text = replace_once(text, "user www-data;", f"user {getpass.getuser()};")
    text = replace_once(text, "pid /run/nginx.pid;", f"pid {workdir}/nginx.pid;")
    text = replace_once(text, "/var/log/nginx/error.log", f"{workdir}/error.log")
    text = replace_once(text, "/var/log/nginx/smartech-dumper.access.log", f"{workdir}/access.log")
    text = replace_once(text, "/var/lib/nginx/body", f"{workdir}/body")
    # Debian's nginx compiles in /var/lib/nginx for the fastcgi/uwsgi/scgi temp paths too: keep them here.
    others = "".join(f" {name}_temp_path {workdir}/{name};" for name in ("fastcgi", "uwsgi", "scgi"))
    text = replace_once(text, "/var/lib/nginx/proxy;", f"{workdir}/proxy;{others}")
    return replace_once(text, "listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")


def write_conf(workdir, port, upstream_ports):
    """Write the rendered conf and a certificate into ``workdir``; return (conf path, cert path)."""
    cert, key = make_cert(workdir)
    conf = os.path.join(workdir, "nginx.conf")
    with open(conf, "w", encoding="utf-8") as handle:
        handle.write(render(workdir, port, upstream_ports, cert, key))
    return conf, cert


def command(workdir, conf, *extra):
    """Return nginx's argv with ``workdir`` as prefix and error log, so nothing touches /etc or /var."""
    return [binary(), "-p", workdir, "-e", f"{workdir}/error.log", "-c", conf, *extra]


class PrivateNginx:
    """nginx in the foreground (``daemon off``) on ``port`` in front of ``upstream_ports``."""

    def __init__(self, workdir, port, upstream_ports):
        self.workdir, self.port = workdir, port
        self.conf, self.cert = write_conf(workdir, port, upstream_ports)
        self.url = f"https://127.0.0.1:{port}"
        argv = command(workdir, self.conf, "-g", "daemon off;")
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.error_log()
            try:
                requests.get(self.url + "/nothing", verify=self.cert, timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not answer: " + self.error_log())

    def error_log(self):
        """Return nginx's error log so far."""
        try:
            with open(os.path.join(self.workdir, "error.log"), encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""

    def stop(self):
        """Stop nginx (SIGQUIT: graceful) and wait for it."""
        if self.proc.poll() is None:
            self.proc.send_signal(3)
            try:
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
                self.proc.wait(timeout=10)
