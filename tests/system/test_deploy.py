"""The shipped deploy/ files: nginx accepts the conf, the units parse and are hardened, the env file loads."""

import configparser
import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

from receiver.core.settings import load
from tests.support import nginxconf

ROOT = nginxconf.ROOT
DEPLOY = os.path.join(ROOT, "deploy")
UNITS = sorted(glob.glob(os.path.join(DEPLOY, "systemd", "*.service")))
ENV_FILE = os.path.join(DEPLOY, "smartech-dumper.env")
SHIPPED_BIN = "/opt/smartech-dumper/.venv/bin/smartech-dumper"
DATA_DIR = "/var/lib/smartech-dumper"
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "Restart": "always"}
SETTING_LINE = re.compile(r"^(#)?([A-Z][A-Z0-9_]*)=(.*)$")


def nginx_t(tmp_path, text):
    conf = tmp_path / "check.conf"
    conf.write_text(text)
    return subprocess.run(nginxconf.command(str(tmp_path), str(conf), "-t"), capture_output=True, text=True)


def test_nginx_accepts_the_shipped_conf(tmp_path):
    conf, _ = nginxconf.write_conf(str(tmp_path), 8443, (8001, 8002))
    done = subprocess.run(nginxconf.command(str(tmp_path), conf, "-t"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_nginx_t_refuses_a_broken_conf(tmp_path):
    # The check above means something only if nginx -t fails on a bad directive.
    conf, _ = nginxconf.write_conf(str(tmp_path), 8443, (8001, 8002))
    text = open(conf).read().replace("proxy_request_buffering on;", "proxy_request_buffering sometimes;")
    assert nginx_t(tmp_path, text).returncode != 0


def directives(text):
    """Return (name, arguments) of every directive of an nginx conf, comments dropped."""
    body = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return [tuple(part.split(None, 1)) for part in re.split(r"[;{}]", body) if part.strip()]


def test_nginx_conf_buffers_limits_and_sets_the_forwarded_address():
    found = {}
    for name, *args in directives(open(nginxconf.SHIPPED).read()):
        found.setdefault(name, []).append(args[0] if args else "")
    settings = load(environ={})
    assert found["client_max_body_size"] == ["10m"] and 10 * 1024 * 1024 == settings.max_bytes
    assert found["proxy_request_buffering"] == ["on"]
    # Set to the peer address, never $proxy_add_x_forwarded_for, which would keep what the client sent.
    assert found["proxy_set_header"].count("X-Forwarded-For $remote_addr") == 1
    assert not any("proxy_add_x_forwarded_for" in value for value in found["proxy_set_header"])
    assert found["proxy_next_upstream"] == ["error timeout"]  # a POST once sent is never resent
    servers = [value for value in found["server"] if value]
    assert len(servers) >= 2 and all("max_fails=" in s and "fail_timeout=" in s for s in servers)
    for timeout in ("client_header_timeout", "client_body_timeout", "proxy_read_timeout", "proxy_connect_timeout"):
        assert timeout in found
    assert found["listen"] == ["443 ssl"] and "ssl_certificate" in found


def parse_unit(path):
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(path)
    return parser


def test_there_are_web_worker_template_and_inspector_units():
    names = [os.path.basename(path) for path in UNITS]
    assert names == [
        "smartech-dumper-inspect.service",
        "smartech-dumper-web.service",
        "smartech-dumper-worker@.service",
    ]


@pytest.mark.parametrize("path", UNITS, ids=os.path.basename)
def test_each_unit_is_hardened_and_runs_our_command(path):
    unit = parse_unit(path)
    assert set(unit.sections()) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == value, key
    assert service["ReadWritePaths"] == DATA_DIR
    assert service["User"] == "smartech-dumper"
    assert service["EnvironmentFile"] == "/etc/smartech-dumper/env"
    command = service["ExecStart"].split()
    assert command[0] == SHIPPED_BIN
    assert command[1] == {"web": "serve", "worker@": "worker", "inspect": "inspect"}[unit_kind(path)]
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def unit_kind(path):
    return os.path.basename(path).removeprefix("smartech-dumper-").removesuffix(".service")


def env_lines():
    """Return (commented out?, name, value) for every setting line of the env file."""
    found = []
    for line in open(ENV_FILE, encoding="utf-8").read().splitlines():
        match = SETTING_LINE.match(line)
        if match:
            found.append((bool(match.group(1)), match.group(2), match.group(3)))
        else:
            assert not line or line.startswith("#"), f"not NAME=value: {line!r}"
    return found


def documented_settings():
    """Return every variable named in the first column of docs/settings.md's tables."""
    names = set()
    for line in open(os.path.join(ROOT, "docs", "settings.md"), encoding="utf-8"):
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_every_variable_in_the_env_file_is_a_known_setting():
    known = documented_settings()
    assert {"DUMPER_BASIC_AUTH", "REDIS_SENTINELS", "DUMPER_INSPECT_BIND"} <= known
    names = [name for _, name, _ in env_lines()]
    assert len(names) == len(set(names))
    assert set(names) - known == set()
    # Every setting a production host acts on is there (the development and CLI-only ones are not).
    assert known - set(names) <= {"DUMPER_AUTH_DISABLED", "DUMPER_SEND_USER", "DUMPER_SEND_PASSWORD"} | {
        "DUMPER_REPLAY_USER", "DUMPER_REPLAY_PASSWORD", "NO_COLOR", "PORT", "PYTHON", "VENV", "DURATION", "SEED",
        "DUMPER_CHAOS_SECONDS", "DUMPER_CHAOS_SEED", "DUMPER_FUZZ_EXAMPLES",
    }  # fmt: skip


@pytest.mark.parametrize("options", [False, True], ids=["as-shipped", "options-on"])
def test_settings_load_accepts_the_env_file(options):
    environ = {name: value for commented, name, value in env_lines() if options or not commented}
    settings = load(environ=environ)
    assert settings.trusted_proxies == 1 and settings.fsync and settings.data_dir == DATA_DIR
    assert settings.credentials and settings.inspect_credentials
    assert bool(settings.redis_sentinels) == options


def test_env_file_values_need_no_quotes_for_systemd():
    # systemd keeps quotes and spaces in some positions where a shell would not; the file uses neither.
    for _, name, value in env_lines():
        assert not re.search(r"[\"' ]", value), name


def test_units_pass_systemd_analyze_verify(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        # No systemd here: the structure tests above are the whole check; say so rather than skip.
        print("systemd-analyze not on PATH: units checked for structure only", file=sys.stderr)
        return
    for path in UNITS:
        # verify needs an instance of a template, and an ExecStart that exists: point it at our venv's.
        name = os.path.basename(path).replace("@.service", "@1.service")
        text = open(path).read().replace(SHIPPED_BIN, os.path.join(os.path.dirname(sys.executable), "smartech-dumper"))
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        [tool, "verify", *sorted(str(p) for p in tmp_path.iterdir())], capture_output=True, text=True, timeout=60
    )
    # A bad value is only a warning (exit 0) for systemd: any output counts as a failure.
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), done.stdout + done.stderr
