"""deploy/README.md's "One host" runs: its commands, read from the README, in a temporary root.

Each command of the section's code blocks is run as written, with the paths it names moved under a
temporary directory (PATHS), or handled by the rule for its command (RULES), which says why it differs.
A command with no rule fails the test: when the README changes, this test changes with it. What the README
leaves to the reader (a certificate, an editor session) is done as the README says, in the rules below.
The commands that cannot run on one machine shared with other work are named in SKIPPED, with the reason.

Steps, as in the README: install from the runtime lock into a new venv (the install a user makes), Redis
with the README's settings (a private redis-server on a free port), the env file edited as the README asks
and `smartech-dumper check` reading it (every line OK), the units copied and checked by `systemd-analyze
verify`, started the way systemd starts them (their ExecStart with their EnvironmentFile) until `/readyz`
says ready and a sample reaches the events file, and nginx's conf edited as told and accepted by `nginx -t`.
"""

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

import pytest
import redis as redis_lib
import requests

from receiver.procs.stack import free_port
from receiver.replay import samples
from tests.support import nginxconf, procs
from tests.support.helpers import read_kind, wait_until
from tests.system.test_install import installed_versions, locked_versions, source_copy

pytestmark = pytest.mark.slow
ROOT = nginxconf.ROOT
README = os.path.join(ROOT, "deploy", "README.md")
# Every absolute path the section names, moved under the temporary root (longest first).
PATHS = [
    "/opt/smartech-dumper",
    "/etc/smartech-dumper",
    "/var/lib/smartech-dumper",
    "/etc/systemd/system",
    "/etc/ssl/smartech-dumper",
    "/etc/nginx",
    "/etc/redis",
]
# What could not run here, and why: nothing else is left out.
SKIPPED = {
    "apt-get": "installs Debian packages on this machine; `make install` puts nginx, redis-server and openssl here",
    "useradd": "would add a system user to this machine; the commands run as the user the tests run as",
    "systemctl status": "the walk-through checks instead that every unit it started is still running",
    "systemctl reload nginx": "no nginx runs as a service here; `nginx -t` before it is the check",
}
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # a unit's PATH
WEB_USER, WEB_PASSWORD = "smartech", "a-webhook-password-for-the-walkthrough"
INSPECT_USER, INSPECT_PASSWORD = "inspect", "an-inspector-password-for-the-walkthrough"


def section():
    """Return the README's "One host" section."""
    text = open(README, encoding="utf-8").read()
    start, end = text.index("\n## One host\n"), text.index("\n## Two hosts\n")
    return text[start:end]


def blocks(text):
    """Return (language, body) of each fenced code block of ``text``, in order."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, re.M | re.S)


class Walk:
    """The temporary root, the state the steps build up, and the processes they started."""

    def __init__(self, tmp_path, section_text):
        self.root = str(tmp_path / "root")
        self.text = section_text
        self.web_port, self.inspect_port, self.redis_port = free_port(), free_port(), free_port()
        self.started = {}  # unit name -> Popen
        self.redis = None
        self.check_output = None
        self.verified = False
        self.ready = None
        self.nginx_ok = False
        self.redis_conf = None
        # The directories a Debian host with the README's packages already has.
        for folder in ("opt", "etc/systemd/system", "etc/nginx", "etc/redis", "etc/ssl"):
            os.makedirs(os.path.join(self.root, folder))

    def path(self, text, strict=True):
        """Return ``text`` with every path of PATHS moved under the root.

        ``strict`` (for a command) fails on any other path under /etc, /opt or /var: nothing runs outside the root.
        """
        pattern = "|".join(re.escape(prefix) for prefix in PATHS)
        moved = re.sub(rf"(?<![\w/.-])({pattern})(?=[/\s'\";]|$)", lambda m: self.root + m.group(1), text, flags=re.M)
        stray = re.findall(r"(?<![\w/.-])/(?:etc|opt|var)/\S*", moved)
        assert not (strict and stray), f"a path this walk-through does not move: {stray} in {text!r}"
        return moved

    def environ(self):
        """Return the shell's environment without our venv, our settings or a PYTHONPATH."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DUMPER_", "REDIS_", "PYTHON", "VIRTUAL_ENV"))}
        ours = os.path.dirname(sys.executable)
        env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep) if part != ours)
        return env

    def shell(self, line, timeout=900):
        """Run ``line`` (paths moved) with bash, in an empty directory; fail with its output on an error."""
        workdir = os.path.join(self.root, "cwd")
        os.makedirs(workdir, exist_ok=True)
        done = subprocess.run(
            ["bash", "-c", self.path(line)],
            cwd=workdir,
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"{line}\nexited {done.returncode}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def stop(self):
        for proc in self.started.values():
            procs.stop(proc)
        if self.redis is not None:
            procs.stop(self.redis)


def rule_for(words):
    """Return the rule that runs the command ``words``, or fail naming it."""
    for key in SKIPPED:
        if words[: len(key.split())] == key.split():
            return None
    for name, rule in RULES:
        if words[: len(name.split())] == name.split():
            return rule
    raise AssertionError(f"deploy/README.md has a command this walk-through cannot run: {shlex.join(words)!r}")


def run_as_written(walk, line, words):
    walk.shell(line)


def install_without_owner(walk, line, words):
    # There is no smartech-dumper user here: the directory is made, with its mode, by the user we run as.
    walk.shell(re.sub(r" -o smartech-dumper -g smartech-dumper", "", line))


def clone(walk, line, words):
    # git clone URL DEST: this checkout's files (what a clone of it holds, with its edits) go to DEST.
    assert len(words) == 4, line
    source_copy(walk.path(words[3]))


def as_service_user(walk, line, words):
    # runuser -u smartech-dumper -- COMMAND: there is no such user here, so COMMAND runs as we are.
    assert words[:4] == ["runuser", "-u", "smartech-dumper", "--"], line
    walk.check_output = walk.shell(shlex.join(words[4:]))


def edit(walk, line, words):
    """The edits the README asks for, file by file."""
    target = walk.path(words[1])
    text = open(target, encoding="utf-8").read()
    if words[1] == "/etc/smartech-dumper/env":
        text = edit_env(walk, walk.path(text, strict=False))
    elif words[1] == "/etc/nginx/nginx.conf":
        text = edit_nginx(walk, walk.path(text, strict=False), line)
    else:
        raise AssertionError(f"no edit known for {words[1]}")
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(text)


def set_value(text, name, value):
    """Set ``name`` in an env file's text, where it is set once, uncommented."""
    assert len(re.findall(rf"^{name}=", text, re.M)) == 1, name
    return re.sub(rf"^{name}=.*$", f"{name}={value}", text, flags=re.M)


def edit_env(walk, text):
    # "Set at least DUMPER_BASIC_AUTH, DUMPER_INSPECT_AUTH, REDIS_URL=…": the README's own REDIS_URL, which
    # must carry the password of its Redis settings; on this machine, on our Redis's port.
    (url,) = re.findall(r"`REDIS_URL=(redis://[^`]+)`", walk.text)
    (password,) = re.findall(r"^requirepass (\S+)$", walk.redis_conf, re.M)
    assert url.startswith(f"redis://:{password}@127.0.0.1:6379/"), "the env's REDIS_URL must match requirepass"
    text = set_value(text, "DUMPER_BASIC_AUTH", f"{WEB_USER}:{WEB_PASSWORD}")
    text = set_value(text, "DUMPER_INSPECT_AUTH", f"{INSPECT_USER}:{INSPECT_PASSWORD}")
    text = set_value(text, "REDIS_URL", url.replace(":6379/", f":{walk.redis_port}/"))
    # Ports 8000 and 8080 may be taken on a machine running other work.
    text = set_value(text, "DUMPER_BIND", f"127.0.0.1:{walk.web_port}")
    return set_value(text, "DUMPER_INSPECT_BIND", f"127.0.0.1:{walk.inspect_port}")


def edit_nginx(walk, text, line):
    # "in `upstream`, one line: server 127.0.0.1:8000 …;" (the README's own line, on our receiver's port).
    (wanted,) = re.findall(r"one line: (server 127\.0\.0\.1:8000 [^;]+;)", line)
    wanted = wanted.replace(":8000 ", f":{walk.web_port} ")
    lines = text.splitlines(keepends=True)
    servers = [i for i, text_line in enumerate(lines) if re.match(r"^\s+server \S+ max_fails=", text_line)]
    assert servers, "no `server` line in the upstream"
    indent = re.match(r"^\s+", lines[servers[0]]).group(0)
    lines[servers[0]] = f"{indent}{wanted}\n"
    for i in reversed(servers[1:]):
        del lines[i]
    # This machine's own: nginx's pid, logs and temp files in the root, and a free port instead of 443.
    workdir = os.path.join(walk.root, "nginx")
    os.makedirs(workdir, exist_ok=True)
    return nginxconf.localise("".join(lines), workdir, free_port())


def units(walk):
    return sorted(glob.glob(os.path.join(walk.path("/etc/systemd/system"), "smartech-dumper*.service")))


def systemctl(walk, line, words):
    if words[1] == "daemon-reload":
        verify_units(walk)
    elif words[1:3] == ["enable", "--now"]:
        for name in words[3:]:
            start_unit(walk, name)
    else:
        raise AssertionError(f"no rule for {line!r}")


def verify_units(walk):
    # What systemd reads at daemon-reload, checked by systemd-analyze (a template needs an instance).
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze not on PATH (Debian's systemd package)"
    check_dir = os.path.join(walk.root, "verify")
    os.makedirs(check_dir)
    for path in units(walk):
        name = os.path.basename(path).replace("@.service", "@1.service")
        with open(path, encoding="utf-8") as handle:
            text = walk.path(handle.read(), strict=False)
        with open(os.path.join(check_dir, name), "w", encoding="utf-8") as handle:
            handle.write(text)
    paths = sorted(glob.glob(os.path.join(check_dir, "*.service")))
    done = subprocess.run([tool, "verify", *paths], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout + done.stderr
    walk.verified = True


def unit_settings(path):
    """Return {key: value} of a unit's [Service] section (the keys we use are set once)."""
    found, in_service = {}, False
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line.startswith("["):
            in_service = line == "[Service]"
        elif in_service and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found[key] = value
    return found


def env_file(path):
    """Return the variables of an EnvironmentFile (NAME=value lines, no quotes: see tests/system/test_deploy.py)."""
    found = {}
    for line in open(path, encoding="utf-8"):
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            name, _, value = line.rstrip("\n").partition("=")
            found[name] = value
    return found


def start_unit(walk, name):
    # What systemd does for the unit: ExecStart with the EnvironmentFile's variables and its own PATH, in /.
    template = re.sub(r"@[^.]+$", "@", name) + ".service"
    path = os.path.join(walk.path("/etc/systemd/system"), template)
    service = unit_settings(path)
    env = {"PATH": SYSTEMD_PATH, "LANG": "C.UTF-8", **env_file(walk.path(service["EnvironmentFile"]))}
    argv = shlex.split(walk.path(service["ExecStart"]))
    assert os.path.isfile(argv[0]), f"{name}: ExecStart {argv[0]} was not installed"
    walk.started[name] = procs.logged_popen(argv, env, cwd="/", start_new_session=True)


def curl(walk, line, words):
    # `curl -s http://127.0.0.1:8000/readyz`: "200 and "ready": true once the forwarder beats".
    (url,) = [word for word in words if word.startswith("http")]
    url = url.replace("127.0.0.1:8000", f"127.0.0.1:{walk.web_port}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        dead = {name: proc.returncode for name, proc in walk.started.items() if proc.poll() is not None}
        assert not dead, {name: procs.output_of(proc) for name, proc in walk.started.items()}
        try:
            answer = requests.get(url, timeout=2)
            if answer.status_code == 200 and answer.json().get("ready") is True:
                walk.ready = answer.json()
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never said ready: {walk.ready}")


def nginx(walk, line, words):
    assert words == ["nginx", "-t"], line
    conf = walk.path("/etc/nginx/nginx.conf")
    workdir = os.path.join(walk.root, "nginx")
    done = subprocess.run(nginxconf.command(workdir, conf, "-t"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "test is successful" in done.stderr, done.stderr
    walk.nginx_ok = True


RULES = [
    ("python3 -m venv", run_as_written),
    ("/opt/smartech-dumper/.venv/bin/pip install", run_as_written),
    ("install", install_without_owner),
    ("cp", run_as_written),
    ("git clone", clone),
    ("editor", edit),
    ("runuser", as_service_user),
    ("systemctl", systemctl),
    ("curl", curl),
    ("nginx", nginx),
]


def start_redis(walk, conf):
    # The README's Redis settings, as written, on a free port with its files in the root.
    path = walk.path("/etc/redis/redis.conf")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(conf)
    data = os.path.join(walk.root, "redis")
    os.makedirs(data)
    argv = ["redis-server", path, "--port", str(walk.redis_port), "--dir", data, "--daemonize", "no"]
    walk.redis = procs.logged_popen(argv, walk.environ())
    (password,) = re.findall(r"^requirepass (\S+)$", conf, re.M)
    url = f"redis://:{password}@127.0.0.1:{walk.redis_port}/0"

    def answers():
        assert walk.redis.poll() is None, "redis-server refused the README's settings:\n" + procs.output_of(walk.redis)
        try:
            return redis_lib.Redis.from_url(url, socket_timeout=1).ping()
        except redis_lib.RedisError:
            return False

    wait_until(answers, timeout=20)


def make_certificate(walk):
    # "Put the certificate … at /etc/ssl/smartech-dumper/fullchain.pem and privkey.pem": a self-signed one.
    folder = walk.path("/etc/ssl/smartech-dumper")
    os.makedirs(folder)
    cert, key = nginxconf.make_cert(folder)
    os.rename(cert, os.path.join(folder, "fullchain.pem"))
    os.rename(key, os.path.join(folder, "privkey.pem"))


def commands(body):
    """Yield (line, words) for each command of a shell block, a `a && b` line as two commands."""
    for line in body.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        while "&&" in words:
            cut = words.index("&&")
            yield shlex.join(words[:cut]), words[:cut]
            words = words[cut + 1 :]
        yield (line if "&&" not in line else shlex.join(words)), words


def test_the_one_host_walkthrough_runs(tmp_path):
    text = section()
    walk = Walk(tmp_path, text)
    found = blocks(text)
    # The Redis settings are the one block that is not shell: the conf of step 2.
    confs = [body for language, body in found if language == ""]
    assert len(confs) == 1 and "maxmemory-policy" in confs[0]
    walk.redis_conf = confs[0]
    assert all(language in ("sh", "") for language, _ in found), [language for language, _ in found]
    ran, skipped = [], []
    try:
        make_certificate(walk)
        for language, body in found:
            if language == "":
                start_redis(walk, body)
                continue
            for line, words in commands(body):
                rule = rule_for(words)
                if rule is None:
                    skipped.append(shlex.join(words))
                    continue
                rule(walk, line, words)
                ran.append(shlex.join(words))
        alive = {name: proc.poll() for name, proc in walk.started.items()}
        # A sample posted to the web unit reaches the events file through the worker units.
        env = env_file(walk.path("/etc/smartech-dumper/env"))
        answer = requests.post(
            f"http://127.0.0.1:{walk.web_port}/webhook/",
            data=samples.WEB_ACTIVITY_BODY,
            headers={"Content-Type": samples.CONTENT_TYPE},
            auth=(WEB_USER, WEB_PASSWORD),
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        events = wait_until(lambda: read_kind(env["DUMPER_DATA_DIR"], "events"), timeout=60)
    finally:
        logs = {name: procs.output_of(proc) for name, proc in walk.started.items()}
        walk.stop()
    print("ran:\n  " + "\n  ".join(ran), file=sys.stderr)
    print("not run here:\n  " + "\n  ".join(skipped), file=sys.stderr)
    # Step 1: a venv from the lock and the package, not an editable install of the checkout. (The newest
    # versions may be the locked ones today: the commands must say so, not only the result.)
    installs = [words for words in ran if words.startswith("/opt/smartech-dumper/.venv/bin/pip install")]
    assert installs == [
        "/opt/smartech-dumper/.venv/bin/pip install --require-hashes -r /opt/smartech-dumper/requirements/runtime.txt",
        "/opt/smartech-dumper/.venv/bin/pip install --no-deps /opt/smartech-dumper",
    ], "step 1 must install the runtime lock, then the package alone"
    venv = walk.path("/opt/smartech-dumper/.venv")
    site = glob.glob(os.path.join(venv, "lib", "python3.*", "site-packages", "receiver", "__init__.py"))
    assert site, "the package is not in the venv's site-packages"
    assert not glob.glob(os.path.join(venv, "lib", "python3.*", "site-packages", "__editable__*"))
    python, cwd = os.path.join(venv, "bin", "python"), str(tmp_path)
    installed, locked = installed_versions(python, cwd), locked_versions(python, cwd)
    assert {name: installed.get(name) for name in locked} == locked, "not the versions of requirements/runtime.txt"
    assert set(installed) - set(locked) <= {"smartech-dumper", "pip", "setuptools"}
    # Step 3: "Every line must say ok".
    lines = walk.check_output.splitlines()
    assert lines and all(line.startswith("OK ") for line in lines), walk.check_output
    assert os.stat(env["DUMPER_DATA_DIR"]).st_mode & 0o777 == 0o700
    # Step 4: the units parse, all four run, the receiver is ready and processes what it receives.
    assert walk.verified
    assert set(alive) == {
        "smartech-dumper-web",
        "smartech-dumper-worker@1",
        "smartech-dumper-worker@2",
        "smartech-dumper-inspect",
    }
    assert all(code is None for code in alive.values()), logs
    assert walk.ready["ready"] is True
    (event,) = events
    assert event["capture_id"] == answer.json()["id"]
    # Step 5: nginx accepts the conf as the README has it edited.
    assert walk.nginx_ok
    assert not [name for name, text in logs.items() if "Traceback" in text], logs
