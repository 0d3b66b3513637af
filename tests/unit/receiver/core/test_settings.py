"""Settings are read in one place; a bad value names its variable."""

import inspect
import ipaddress
import math
import re

import pytest

from receiver.core import settings as settings_module
from receiver.core.settings import DEFAULT_MAX_BYTES, SettingsError, load
from receiver.web import create_app


def test_defaults():
    settings = load(environ={})
    assert settings.data_dir == "./var"
    assert settings.queue == "smartech"
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.max_bytes == DEFAULT_MAX_BYTES == 10 * 1024 * 1024
    assert settings.trusted_proxies == 0
    assert settings.allowed_networks == ()
    assert settings.credentials == ()
    assert settings.fsync is True


def test_lists_ignore_spaces_and_parse_ipv4_and_ipv6():
    settings = load(
        environ={
            "DUMPER_ALLOWED_IPS": " 10.0.0.0/8 , 192.168.1.7,2001:db8::/32 ,, ::1 ",
            "DUMPER_BASIC_AUTH": " a:b , c:d:e ",
        }
    )
    assert settings.allowed_networks == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.1.7/32"),
        ipaddress.ip_network("2001:db8::/32"),
        ipaddress.ip_network("::1/128"),
    )
    assert settings.credentials == (("a", "b"), ("c", "d:e"))


@pytest.mark.parametrize(
    "name,value",
    [
        ("DUMPER_ALLOWED_IPS", "10.0.0.0/33"),
        ("DUMPER_ALLOWED_IPS", "not-an-ip"),
        ("DUMPER_MAX_BYTES", "ten"),
        ("DUMPER_MAX_BYTES", "0"),
        ("DUMPER_TRUSTED_PROXIES", "-1"),
        ("DUMPER_TRUSTED_PROXIES", "two"),
        ("DUMPER_REDIS_TIMEOUT", "soon"),
        ("DUMPER_FSYNC", "maybe"),
        ("DUMPER_AUTH_DISABLED", "perhaps"),
        ("REDIS_URL", "localhost:6379"),
        ("DUMPER_LOG_LEVEL", "LOUD"),
        ("DUMPER_MAX_BYTES", str(256 * 1024 * 1024 + 1)),
        ("WEB_CONCURRENCY", "257"),
        ("DUMPER_WEB_CONNECTIONS", "100001"),
        ("DUMPER_QUEUE", "a b:c"),
        ("DUMPER_QUEUE", "-high"),
        ("DUMPER_QUEUE", "q" * 65),
        ("DUMPER_QUARANTINE", "sometimes"),
        ("DUMPER_QUARANTINE_BYTES", "-1"),
        ("DUMPER_QUARANTINE_BYTES", str(16 * 1024**3 + 1)),
        ("DUMPER_AUDIT_WINDOW", "56m"),
        ("DUMPER_AUDIT_WINDOW", "later"),
        ("DUMPER_AUDIT_EVERY", "0"),
        ("DUMPER_AUDIT_STUCK_AFTER", "never"),
    ],
)
def test_bad_value_names_the_variable(name, value):
    with pytest.raises(SettingsError) as info:
        load(environ={name: value})
    assert str(info.value).startswith(name + ":")


def test_the_bounds_themselves_are_accepted():
    settings = load(
        environ={"DUMPER_MAX_BYTES": str(256 * 1024 * 1024), "WEB_CONCURRENCY": "256", "DUMPER_QUEUE": "crm.leads-2_b"}
    )
    assert (settings.max_bytes, settings.web_processes, settings.queue) == (256 * 1024 * 1024, 256, "crm.leads-2_b")


def test_a_typo_in_a_variable_is_warned_naming_the_closest_setting():
    from click.testing import CliRunner

    from scripts.cli import main

    result = CliRunner(env={"DUMPER_BASIC_AUTHH": "u:p", "DUMPER_INSPECT_BIN": "x"}).invoke(main, ["stats", "--help"])
    assert result.exit_code == 0
    assert "DUMPER_BASIC_AUTHH is not a setting and is ignored: did you mean DUMPER_BASIC_AUTH?" in result.stderr
    # DUMPER_INSPECT_BIND is no setting of load(): an option of `inspect` takes it, and it is known too.
    assert "did you mean DUMPER_INSPECT_BIND?" in result.stderr
    clean = CliRunner(env={"DUMPER_BASIC_AUTH": "u:p", "DUMPER_INSPECT_BIND": "127.0.0.1:1"}).invoke(
        main, ["stats", "--help"]
    )
    assert clean.stderr == ""


def test_bad_credentials_entry_never_echoes_the_password():
    with pytest.raises(SettingsError) as info:
        load(environ={"DUMPER_BASIC_AUTH": "ok:fine,hunter2"})
    assert "DUMPER_BASIC_AUTH" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_app_refuses_to_start_without_credentials(tmp_path, monkeypatch):
    monkeypatch.delenv("DUMPER_BASIC_AUTH", raising=False)
    monkeypatch.delenv("DUMPER_AUTH_DISABLED", raising=False)
    with pytest.raises(SettingsError, match="DUMPER_BASIC_AUTH"):
        create_app({"DUMPER_DATA_DIR": str(tmp_path)})


def test_app_starts_without_credentials_only_with_explicit_opt_out(tmp_path, monkeypatch):
    monkeypatch.delenv("DUMPER_BASIC_AUTH", raising=False)
    app = create_app({"DUMPER_DATA_DIR": str(tmp_path), "DUMPER_AUTH_DISABLED": "true"})
    assert app.config["SETTINGS"].auth_disabled is True


SETTING_NAMES = sorted(set(re.findall(r'get\("([A-Z_]+)"', inspect.getsource(load))))
HOSTILE_VALUES = [
    "",
    "  ",
    ",",
    "inf",
    "-inf",
    "nan",
    "-1",
    "0",
    "1e999",
    "9" * 400,
    "é",
    "\x00",
    "a:b:c",
    "1w",
    "redis://host:notaport/0",
    "smtp://:25",
]


def test_every_setting_is_read_by_one_parser():
    assert len(SETTING_NAMES) >= 20 and "DUMPER_ALERT_FROM" in SETTING_NAMES


def test_current_settings_follow_a_removed_variable(monkeypatch):
    monkeypatch.setenv("DUMPER_QUEUE", "gone-soon")
    assert settings_module.current().queue == "gone-soon"
    monkeypatch.delenv("DUMPER_QUEUE")
    assert settings_module.current().queue == settings_module.DEFAULT_QUEUE


@pytest.mark.parametrize("value", ["smtp://:25", "redis://h:26379", "a b:26379", ":26379", "h:0", "h:65536", "h"])
def test_a_sentinel_that_is_not_host_colon_port_is_refused(value):
    with pytest.raises(SettingsError, match="^REDIS_SENTINELS:"):
        load(environ={"REDIS_SENTINELS": value, "REDIS_SENTINEL_MASTER": "m"})


def test_sentinels_accept_names_addresses_and_bracketed_ipv6():
    settings = load(environ={"REDIS_SENTINELS": "s1:26379, 10.0.0.2:26380,[::1]:26381", "REDIS_SENTINEL_MASTER": "m"})
    assert settings.redis_sentinels == (("s1", 26379), ("10.0.0.2", 26380), ("::1", 26381))


def test_current_settings_follow_a_changed_environment(monkeypatch):
    monkeypatch.setenv("DUMPER_QUEUE", "first")
    assert settings_module.current().queue == "first"
    assert settings_module.current() is settings_module.current()
    monkeypatch.setenv("DUMPER_QUEUE", "second")
    assert settings_module.current().queue == "second"


@pytest.mark.parametrize("name", SETTING_NAMES)
def test_no_value_of_any_setting_escapes_as_anything_but_a_settings_error(name):
    for value in HOSTILE_VALUES:
        try:
            settings = load(environ={name: value})
        except SettingsError as exc:
            assert str(exc).startswith(name + ":"), (value, str(exc))
        else:
            # What loads must be usable: finite numbers, RQ-safe durations.
            for field, setting in vars(settings).items():
                if isinstance(setting, float):
                    assert math.isfinite(setting) and setting >= 0, (name, value, field)


def test_an_alert_sender_without_an_address_names_the_setting():
    with pytest.raises(SettingsError, match="^DUMPER_ALERT_FROM: expected one e-mail address"):
        load(environ={"DUMPER_ALERT_FROM": " , "})


def test_an_empty_variable_is_an_unset_one():
    assert load(environ={"DUMPER_FSYNC": "", "DUMPER_ALERT_FROM": " "}) == load(environ={})


def test_durations_accept_weeks_and_refuse_what_rq_cannot_hold():
    assert load(environ={"DUMPER_DEDUP_WINDOW": "2w"}).dedup_window == 14 * 86400
    for value in ("9" * 400, "1e3s", "11000d"):
        with pytest.raises(SettingsError, match="^DUMPER_JOB_TIMEOUT:"):
            load(environ={"DUMPER_JOB_TIMEOUT": value})


def test_a_redis_url_with_a_bad_port_stops_the_start_without_echoing_its_password():
    with pytest.raises(SettingsError, match="^REDIS_URL: Port") as info:
        load(environ={"REDIS_URL": "redis://user:hunter2@host:six/0"})
    assert "hunter2" not in str(info.value)


def test_the_quarantine_is_on_by_default_only_behind_an_allowlist():
    assert load(environ={}).quarantine is False
    assert load(environ={"DUMPER_ALLOWED_IPS": "10.0.0.0/8"}).quarantine is True
    assert load(environ={"DUMPER_ALLOWED_IPS": "10.0.0.0/8", "DUMPER_QUARANTINE": "false"}).quarantine is False
    assert load(environ={"DUMPER_QUARANTINE": "true"}).quarantine is True
    assert load(environ={}).quarantine_bytes == settings_module.DEFAULT_QUARANTINE_BYTES == 64 * 1024**2
    assert load(environ={"DUMPER_QUARANTINE_BYTES": str(16 * 1024**3)}).quarantine_bytes == 16 * 1024**3


def test_the_continuous_audit_defaults_and_its_off_words():
    from receiver.core.queues import RESULT_TTL

    settings = load(environ={})
    assert (settings.audit_window, settings.audit_every, settings.audit_stuck_after) == (3000, 300, 600)
    # A finished job must still be in Redis for the audit's whole window (RQ keeps it RESULT_TTL seconds).
    assert settings_module.MAX_AUDIT_WINDOW < RESULT_TTL
    assert load(environ={"DUMPER_AUDIT_WINDOW": "55m"}).audit_window == settings_module.MAX_AUDIT_WINDOW
    for word in ("off", "none", "OFF"):
        assert load(environ={"DUMPER_AUDIT_WINDOW": word}).audit_window is None
