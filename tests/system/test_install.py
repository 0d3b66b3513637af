"""A user's install works: the wheel, the runtime lock and nothing else, in a fresh venv, on every Python we support.

This is how issue #18 reached users while `make test` stayed green: the suite ran in the development venv,
where pytest had brought in `packaging`, which gunicorn's gevent worker imports. Here, as a user would:

- the wheel is built from a copy of the source tree (what git would commit, with this checkout's edits);
- a new venv per supported Python found on this machine gets `pip install --require-hashes -r
  requirements/runtime.txt`, then `pip install --no-deps` the wheel: no test extra, no editable install;
- every command runs with that venv's bin on PATH and its cwd in an empty temporary directory, so the code
  can only come from the venv's site-packages (asserted);
- `pip check` passes; `check` passes against a private Redis; `serve` answers the vendor's documented
  web-activity sample with 200, `forward` hands its capture to Redis, `worker` writes its event to
  `events/YYYY-MM-DD.jsonl` and `audit` finds the books balanced; `inspect` serves its page and its
  static files byte for byte (the package data is in the wheel); `up` starts everything and prints its URLs.

The supported versions come from setup.cfg's python_requires; one that no interpreter here provides is
named on stderr (tests/system/test_install.py::test_every_supported_python_is_found_or_named).
"""

import configparser
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import pytest
import redis as redis_lib
import requests
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from receiver.core import keys
from receiver.procs.stack import free_port
from receiver.replay import samples
from tests.support import procs
from tests.support.helpers import PASSWORD, ROOT, USER, read_kind, wait_until
from tests.unit.test_requirements import RUNTIME_LOCK, read_lock

pytestmark = pytest.mark.slow
INSPECT_USER, INSPECT_PASSWORD = "inspect", "1nspect"
STATIC = os.path.join(ROOT, "receiver", "inspector", "static")
# Where a Python may be besides PATH: Debian's, a local build's, pyenv's (whose shims on PATH answer only
# for the versions pyenv has selected, so its installs are looked up directly).
PYTHON_DIRS = ["/usr/bin", "/usr/local/bin"]
PYENV_ROOT = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
# The variables that would let the venv's Python find code or settings of this checkout or this shell.
DROPPED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "DUMPER_", "REDIS_", "PROMETHEUS_")


def python_requires():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(ROOT, "setup.cfg"), encoding="utf-8")
    return parser["options"]["python_requires"]


def supported_versions():
    """Return the '3.X' versions setup.cfg's python_requires admits (3.0 to 3.40)."""
    specifier = SpecifierSet(python_requires())
    return [f"3.{minor}" for minor in range(41) if specifier.contains(f"3.{minor}.0")]


def usable(path, version):
    """Tell whether ``path`` runs, is Python ``version`` and can make a venv with pip (ensurepip)."""
    try:
        done = subprocess.run(
            [path, "-c", "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip() == version


def find_python(version):
    """Return an interpreter of ``version`` on this machine, or None: the system's first, then PATH, then pyenv."""
    name = f"python{version}"
    candidates = [os.path.join(folder, name) for folder in PYTHON_DIRS]
    candidates.append(shutil.which(name))
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        candidates.append(sys.executable)
    candidates += sorted(glob.glob(os.path.join(PYENV_ROOT, "versions", f"{version}.*", "bin", name)), reverse=True)
    return next((path for path in candidates if path and os.path.exists(path) and usable(path, version)), None)


SUPPORTED = supported_versions()
FOUND = {version: find_python(version) for version in SUPPORTED}
TESTED = [version for version in SUPPORTED if FOUND[version]]


def test_every_supported_python_is_found_or_named():
    untested = [version for version in SUPPORTED if not FOUND[version]]
    print(f"user install tested on Python {', '.join(TESTED)}", file=sys.stderr)
    if untested:
        print(f"user install NOT tested on Python {', '.join(untested)}: no interpreter here", file=sys.stderr)
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert running in TESTED, f"the suite runs on Python {running}, which setup.cfg does not support"


def source_copy(dest):
    """Copy the files git would commit (tracked, or new and not ignored) to ``dest``: a clone plus our edits."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = os.path.join(ROOT, name)
        if os.path.isfile(source):  # a file deleted but not yet committed is listed too
            os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
            shutil.copy2(source, os.path.join(dest, name))
    return dest


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """Build the project's wheel once, from a copy of the source tree; return its path."""
    work = tmp_path_factory.mktemp("wheel")
    source = source_copy(str(work / "src"))
    # The dev venv's setuptools (locked) builds it: no download, and the same backend every time.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), source],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = glob.glob(str(work / "dist" / "smartech_dumper-*.whl"))
    return built


# packaging.markers.default_environment() with the stdlib alone (a venv need not hold packaging).
MARKERS = """
import json, os, platform, sys
v = sys.implementation.version
extra = "" if v.releaselevel == "final" else v.releaselevel[0] + str(v.serial)
print(json.dumps({
    "implementation_name": sys.implementation.name, "implementation_version": f"{v.major}.{v.minor}.{v.micro}{extra}",
    "os_name": os.name, "platform_machine": platform.machine(), "platform_release": platform.release(),
    "platform_system": platform.system(), "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]), "sys_platform": sys.platform,
}))
"""


def markers_of(python, cwd):
    """Return the environment markers' values of the interpreter ``python``."""
    done = subprocess.run([python, "-c", MARKERS], cwd=cwd, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def installed_versions(python, cwd):
    """Return {canonical name: version} of what the interpreter ``python`` has installed (pip list)."""
    done = subprocess.run(
        [python, "-m", "pip", "list", "--format=json"], cwd=cwd, capture_output=True, text=True, timeout=120, check=True
    )
    return {canonicalize_name(row["name"]): row["version"] for row in json.loads(done.stdout)}


def locked_versions(python, cwd):
    """Return {canonical name: version} of what requirements/runtime.txt installs for the interpreter ``python``."""
    return {name: version for name, (version, _) in read_lock(RUNTIME_LOCK, markers_of(python, cwd)).items()}


class Venv:
    """A fresh venv of one Python holding the runtime lock and the wheel, as a user installs them."""

    def __init__(self, python, path, wheel):
        self.python, self.path = python, path
        self.bin = os.path.join(path, "bin")
        self.cwd = os.path.join(os.path.dirname(path), "cwd")  # empty, outside the checkout
        os.makedirs(self.cwd)
        self.run([python, "-m", "venv", path], timeout=120)
        # The pip each Python's venv comes with, as a user has it: the lock must install with that one.
        self.pip("install", "--require-hashes", "-r", RUNTIME_LOCK, timeout=900)
        self.pip("install", "--no-deps", wheel)

    def markers(self):
        """Return this venv's values of the environment markers, which decide what of the lock it installs."""
        return markers_of(os.path.join(self.bin, "python"), self.cwd)

    def environ(self, **settings):
        env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_ENV)}
        env.update(PATH=self.bin + os.pathsep + env.get("PATH", ""), PYTHONUNBUFFERED="1", **settings)
        return env

    def run(self, argv, timeout=60, check=True, env=None):
        done = subprocess.run(
            argv, cwd=self.cwd, env=env or self.environ(), capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert done.returncode == 0, f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        return done

    def pip(self, *args, timeout=300):
        return self.run([os.path.join(self.bin, "python"), "-m", "pip", *args], timeout=timeout)

    def command(self, *args):
        return [os.path.join(self.bin, "smartech-dumper"), *args]

    def popen(self, env, *args, **options):
        return procs.logged_popen(self.command(*args), env, cwd=self.cwd, **options)


@pytest.fixture(scope="session", params=TESTED, ids=lambda version: f"py{version}")
def user_venv(request, wheel, tmp_path_factory):
    """Return the user's venv for one supported Python, made once per session."""
    return Venv(FOUND[request.param], str(tmp_path_factory.mktemp(f"user-{request.param}") / "venv"), wheel)


@pytest.fixture
def settings(user_venv, redis_url, tmp_path):
    """Return the environment of a production-like host: the private Redis, a data dir, both credentials."""
    return user_venv.environ(
        REDIS_URL=redis_url,
        DUMPER_DATA_DIR=str(tmp_path / "var"),
        DUMPER_BASIC_AUTH=f"{USER}:{PASSWORD}",
        DUMPER_INSPECT_AUTH=f"{INSPECT_USER}:{INSPECT_PASSWORD}",
        DUMPER_FSYNC="false",
    )


def started(proc, url):
    """Wait until ``url`` answers 200; fail with the process's output if it exits or never answers."""
    try:
        procs.wait_http(url, proc, timeout=60)
    except RuntimeError as exc:
        raise AssertionError(f"{exc}:\n{procs.stop(proc)}") from None


def test_wheel_declares_what_setup_cfg_says(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (meta,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        text = archive.read(meta).decode()
    (requires_python,) = re.findall(r"^Requires-Python: (.+)$", text, re.M)
    assert SpecifierSet(requires_python) == SpecifierSet(python_requires())
    assert re.search(r"^Requires-Dist: gunicorn\[gevent\]", text, re.M)
    for name in os.listdir(STATIC):  # the package data: the inspector's templates and assets
        assert f"receiver/inspector/static/{name}" in names
    assert "receiver/inspector/templates/base.html" in names
    assert not [name for name in names if name.startswith("tests/")]


def test_pip_check_passes_and_the_code_comes_from_the_venv(user_venv):
    user_venv.pip("check")
    where = user_venv.run(
        [
            os.path.join(user_venv.bin, "python"),
            "-c",
            "import json, sysconfig, receiver, jobs, scripts, receiver.inspector as i; "
            "print(json.dumps([sysconfig.get_paths()['purelib'], "
            "[m.__file__ for m in (receiver, jobs, scripts)], i.__file__]))",
        ]
    )
    site, files, inspector = json.loads(where.stdout)
    assert site.startswith(user_venv.path + os.sep)
    assert all(path.startswith(site + os.sep) for path in [*files, inspector]), files
    python = os.path.join(user_venv.bin, "python")
    installed, locked = installed_versions(python, user_venv.cwd), locked_versions(python, user_venv.cwd)
    assert {name: installed.get(name) for name in locked} == locked
    # Only the lock, the project and what the venv itself came with (pip; setuptools before Python 3.12).
    assert set(installed) - set(locked) <= {"smartech-dumper", "pip", "setuptools"}


def test_check_passes(user_venv, settings):
    done = user_venv.run(user_venv.command("check"), env=settings)
    assert re.search(r"^OK +redis: ", done.stdout, re.M), done.stdout
    assert re.search(r"^OK +web auth: ", done.stdout, re.M) and "FAIL" not in done.stdout


def test_serve_forward_and_worker_take_the_vendor_sample_to_the_events_file(user_venv, settings, redis_url):
    # The forwarder runs on its own (`forward`), so each command shows it does its part.
    env = dict(settings, DUMPER_FORWARDER="false", DUMPER_QUEUE="smartech")
    port = free_port()
    web = user_venv.popen(env, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1")
    forward = worker = None
    logs = {}
    try:
        started(web, f"http://127.0.0.1:{port}/healthz")
        answer = requests.post(
            f"http://127.0.0.1:{port}/webhook/",
            data=samples.WEB_ACTIVITY_BODY,  # the vendor's cURL sample, verbatim, with its trailing <div>
            headers={"Content-Type": samples.CONTENT_TYPE},
            auth=(USER, PASSWORD),
            timeout=10,
        )
        assert answer.status_code == 200 and answer.json()["status"] == "accepted", answer.text
        capture_id = answer.json()["id"]
        assert [c["id"] for c in read_kind(env["DUMPER_DATA_DIR"], "captures")] == [capture_id]

        forward = user_venv.popen(env, "forward")
        client = redis_lib.Redis.from_url(redis_url)
        wait_until(lambda: client.exists(keys.capture_job("smartech", capture_id)), timeout=30)
        client.close()
        logs["forward"] = procs.stop(forward)

        worker = user_venv.popen(env, "worker", start_new_session=True)
        events = wait_until(lambda: read_kind(env["DUMPER_DATA_DIR"], "events"), timeout=60)
        (event,) = events
        assert event["capture_id"] == capture_id
        assert event["webhook_name"] == "Test Webhook URL for Automation"
        assert event["raw"]["event_params"]["guid"] == samples.WEB_ACTIVITY_GUID
        day = event["received_at"][:10]
        assert os.listdir(os.path.join(env["DUMPER_DATA_DIR"], "events")) == [f"{day}.jsonl"]
        books = json.loads(user_venv.run(user_venv.command("audit", "--json"), env=env).stdout)
        assert books["totals"]["captures"] == books["totals"]["processed"] == 1, books  # the books balance
    finally:
        for name, proc in (("serve", web), ("forward", forward), ("worker", worker)):
            if proc and name not in logs:
                logs[name] = procs.stop(proc)
    assert "Using worker: receiver.web.gunicorn_worker.Worker" in logs["serve"]
    assert not [name for name, text in logs.items() if "Traceback" in text], logs


def test_inspect_serves_its_page_and_static_files(user_venv, settings):
    port = free_port()
    inspector = user_venv.popen(settings, "inspect", "--bind", f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    try:
        started(inspector, base + "/healthz")
        auth = (INSPECT_USER, INSPECT_PASSWORD)
        assert requests.get(base + "/", timeout=10).status_code == 401
        page = requests.get(base + "/", auth=auth, timeout=10)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert "/static/inspector.css" in page.text and "/static/inspector.js" in page.text
        for name in sorted(os.listdir(STATIC)):
            asset = requests.get(f"{base}/static/{name}", auth=auth, timeout=10)
            assert asset.status_code == 200, name
            assert asset.content == open(os.path.join(STATIC, name), "rb").read(), name
    finally:
        output = procs.stop(inspector)
    assert "Traceback" not in output, output


def test_up_starts_everything_and_prints_its_urls(user_venv, tmp_path):
    # No settings at all, as on a first `make run`: up makes a private Redis and the credentials.
    env = user_venv.environ(DUMPER_DATA_DIR=str(tmp_path / "var"), DUMPER_FSYNC="false")
    port = free_port()
    proc = subprocess.Popen(
        user_venv.command("up", "--port", str(port), "--private-redis"),
        cwd=user_venv.cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(line.startswith("inspector:") for line in seen):
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
        text = "".join(seen)
        assert f"smartech-dumper is up: POST http://127.0.0.1:{port}/webhook/" in text, text
        inspector = re.search(
            r"^inspector:  (http://127\.0\.0\.1:\d+)/   user '([^']+)' password '([^']+)'", text, re.M
        )
        assert inspector, text
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        page = requests.get(inspector.group(1) + "/", auth=inspector.group(2, 3), timeout=10)
        assert page.status_code == 200, page.text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rest = proc.communicate(timeout=60)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            rest = proc.communicate()[0]
    assert proc.returncode == 0, "".join(seen) + rest
