"""A real browser for the inspector's tests: Debian's chromium driven by Playwright, and the inspector process.

Playwright's own browser downloads are never used: the tests drive the
``chromium`` package, which ``ensure_chromium`` installs with apt when it is
missing (the tests run as root on the project's machines).
"""

import os
import subprocess

from tests.support.procs import logged_popen, stop, wait_http

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APT_TIMEOUT = 900


def ensure_chromium():
    """Install Debian's chromium with apt when it is missing; raise if that fails."""
    if os.path.exists(CHROMIUM):
        return
    apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update"], env=apt_env, check=True, capture_output=True, timeout=APT_TIMEOUT)
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
        env=apt_env,
        check=True,
        capture_output=True,
        timeout=APT_TIMEOUT,
    )


class Inspector:
    """A running ``smartech-dumper inspect`` (gunicorn) on a free port."""

    def __init__(self, env, port):
        from tests.support.procs import BIN as bin_dir

        self.url = f"http://127.0.0.1:{port}"
        command = [os.path.join(bin_dir, "smartech-dumper"), "inspect", "--bind", f"127.0.0.1:{port}"]
        self.proc = logged_popen(command, env)
        wait_http(self.url + "/healthz", self.proc)

    def stop(self):
        """Stop gunicorn and return its output."""
        return stop(self.proc)
