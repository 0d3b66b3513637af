"""Settings are read in one place; a bad value names its variable."""
import ipaddress

import pytest

from receiver import create_app
from receiver.settings import DEFAULT_MAX_BYTES, SettingsError, load


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
    settings = load(environ={
        "DUMPER_ALLOWED_IPS": " 10.0.0.0/8 , 192.168.1.7,2001:db8::/32 ,, ::1 ",
        "DUMPER_BASIC_AUTH": " a:b , c:d:e ",
    })
    assert settings.allowed_networks == (
        ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.168.1.7/32"),
        ipaddress.ip_network("2001:db8::/32"), ipaddress.ip_network("::1/128"))
    assert settings.credentials == (("a", "b"), ("c", "d:e"))


@pytest.mark.parametrize("name,value", [
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
    ("DUMPER_QUEUE", "  "),
    ("DUMPER_LOG_LEVEL", "LOUD"),
])
def test_bad_value_names_the_variable(name, value):
    with pytest.raises(SettingsError) as info:
        load(environ={name: value})
    assert str(info.value).startswith(name + ":")


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
