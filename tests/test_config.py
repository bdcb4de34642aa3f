"""Configuration: the seed's keys and defaults, env/.env overrides, and one clear line per mistake."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from concierge.config import ENV_ALIASES, CallState, load_config
from concierge.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Each test sees only the variables it sets (`monkeypatch.setenv`), never the runner's."""
    for name in list(os.environ):
        if name.upper().startswith("APOENA_") or name in ENV_ALIASES or name.startswith("AZURE_SPEECH_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_shipped_config_keeps_the_seed_keys_and_defaults():
    config = load_config(ROOT / "config.json")
    assert config.greeting.message == "Condomínio Apoena, em que posso ajudar?"
    assert config.system.default_state == CallState.STANDBY
    assert (config.audio.sample_rate, config.audio.channels, config.audio.format, config.audio.chunk_size) == (8000, 1, "SLIN", 320)
    assert config.directory.path == ROOT / "data" / "apartamentos.json"


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    config = load_config(write(tmp_path, {"directory": {"path": "dir.json"}}))
    assert config.directory.path == tmp_path / "dir.json"
    assert config.redis.embedded_path == tmp_path / ".apoena" / "memory.db"


def test_environment_overrides_file_and_parses_numbers(tmp_path, monkeypatch):
    path = write(tmp_path, {"system": {"silence_threshold_seconds": 0.9}})
    monkeypatch.setenv("APOENA_SYSTEM__SILENCE_THRESHOLD_SECONDS", "0.5")
    monkeypatch.setenv("REDIS_URL", "redis://example:6379/1")
    config = load_config(path)
    assert config.system.silence_threshold_seconds == 0.5
    assert config.redis.url == "redis://example:6379/1"


def test_dotenv_beside_the_config_is_read_and_real_environment_wins(tmp_path, monkeypatch):
    path = write(tmp_path, {})
    (tmp_path / ".env").write_text("# comment\nexport APOENA_GREETING__MESSAGE='Olá, portaria'\nAPOENA_SERVER__PORT=9100\n")
    monkeypatch.setenv("APOENA_SERVER__PORT", "9200")
    config = load_config(path)
    assert config.greeting.message == "Olá, portaria"
    assert config.server.port == 9200


def test_unknown_key_names_the_key_and_the_known_ones(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, {"system": {"silence_treshold_seconds": 1}}))
    message = str(error.value)
    assert "unknown key 'system.silence_treshold_seconds'" in message
    assert "silence_threshold_seconds" in message and "\n" not in message
    assert error.value.exit_code == 2


def test_wrong_type_names_the_key_and_the_value(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, {"audio": {"sample_rate": "oito mil"}}))
    assert "'audio.sample_rate'" in str(error.value) and "oito mil" in str(error.value)


def test_bad_override_names_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("APOENA_SERVER__PORT", "many")
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, {}))
    assert "APOENA_SERVER__PORT" in str(error.value)


@pytest.mark.parametrize("content, expected", [("{not json", "not valid JSON"), ("[1, 2]", "JSON object")])
def test_malformed_file_is_one_clear_line(tmp_path, content, expected):
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, content))


def test_missing_file_says_how_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.json")


def test_no_input_prompt_seconds_defaults_to_five_and_is_bounded(tmp_path):
    assert load_config(write(tmp_path, {})).system.no_input_prompt_seconds == 5.0
    slower = load_config(write(tmp_path, {"system": {"no_input_prompt_seconds": 8}}))
    assert slower.system.no_input_prompt_seconds == 8
    for bad in (0.5, 120, "soon"):
        with pytest.raises(ConfigError, match="system.no_input_prompt_seconds"):
            load_config(write(tmp_path, {"system": {"no_input_prompt_seconds": bad}}))


def test_asterisk_defaults_reach_a_local_manager():
    asterisk = load_config(ROOT / "config.json").asterisk
    assert (asterisk.ami.host, asterisk.ami.port, asterisk.ami.username, asterisk.ami.secret) == ("127.0.0.1", 5038, "apoena", None)
    assert asterisk.resident_context == "apoena-resident" and asterisk.ring_seconds == 30


def test_ami_secret_comes_from_the_environment_or_dotenv_and_never_shows(tmp_path, monkeypatch):
    path = write(tmp_path, {"asterisk": {"ami": {"host": "pbx.local", "username": "portaria"}, "resident_context": "moradores"}})
    (tmp_path / ".env").write_text("APOENA_ASTERISK__AMI__SECRET=123456\n")
    monkeypatch.setenv("APOENA_ASTERISK__RING_SECONDS", "20")
    config = load_config(path)
    assert config.asterisk.ami.secret == "123456"  # an all-digit secret stays text
    assert (config.asterisk.ami.host, config.asterisk.resident_context, config.asterisk.ring_seconds) == ("pbx.local", "moradores", 20)
    assert "123456" not in repr(config)


@pytest.mark.parametrize(
    "section, key",
    [
        ({"ami": {"port": 70000}}, "asterisk.ami.port"),
        ({"ami": {"password": "x"}}, "asterisk.ami.password"),
        ({"resident_context": "moradores; Dial"}, "asterisk.resident_context"),
        ({"audiosocket_host": "10.0.0.5, 10.0.0.6"}, "asterisk.audiosocket_host"),
        ({"ring_seconds": 1}, "asterisk.ring_seconds"),
    ],
)
def test_bad_asterisk_keys_are_named_in_one_line(tmp_path, section, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as error:
        load_config(write(tmp_path, {"asterisk": section}))
    assert "\n" not in str(error.value)


def test_residents_are_called_only_once_the_manager_secret_is_set(tmp_path, monkeypatch):
    shipped = load_config(ROOT / "config.json")
    assert not shipped.asterisk.enabled, "the shipped config asks nobody: decisions are not_asked"
    assert (shipped.asterisk.visit_timeout_seconds, shipped.asterisk.waiting_update_seconds) == (150, 15)
    assert shipped.gate.channel_variable == "APOENA_DECISION" and shipped.gate.webhook.url is None
    monkeypatch.setenv("APOENA_ASTERISK__AMI__SECRET", "s3cret")
    enabled = load_config(write(tmp_path, {}))
    assert enabled.asterisk.enabled


def test_the_webhook_token_comes_from_the_environment_and_never_shows(tmp_path, monkeypatch):
    path = write(tmp_path, {"gate": {"webhook": {"url": "http://127.0.0.1:8081/portao", "attempts": 5}}})
    monkeypatch.setenv("APOENA_GATE__WEBHOOK__TOKEN", "gate-token-123")
    config = load_config(path)
    assert (config.gate.webhook.url, config.gate.webhook.attempts, config.gate.webhook.token) == ("http://127.0.0.1:8081/portao", 5, "gate-token-123")
    assert "gate-token-123" not in repr(config)


@pytest.mark.parametrize(
    "section, key",
    [
        ({"webhook": {"url": "ftp://gate"}}, "gate.webhook.url"),
        ({"webhook": {"attempts": 0}}, "gate.webhook.attempts"),
        ({"channel_variable": "APOENA DECISION"}, "gate.channel_variable"),
    ],
)
def test_bad_gate_keys_are_named_in_one_line(tmp_path, section, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as error:
        load_config(write(tmp_path, {"gate": section}))
    assert "\n" not in str(error.value)


def test_plain_values_stay_text_and_are_never_read_as_json(tmp_path, monkeypatch):
    """Issue 11: LLM_API_KEY=12345678 and LLM_MODEL=true were refused ('input should be a valid string')."""
    monkeypatch.setenv("LLM_API_KEY", "12345678")
    monkeypatch.setenv("LLM_MODEL", "true")
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:8088/v1")
    monkeypatch.setenv("APOENA_GREETING__MESSAGE", "[1, 2]")
    monkeypatch.setenv("APOENA_WEB_TOKEN", "1234567890123456")
    config = load_config(write(tmp_path, {}))
    assert (config.brain.llm.api_key, config.brain.llm.model, config.brain.llm.base_url) == ("12345678", "true", "http://127.0.0.1:8088/v1")
    assert config.greeting.message == "[1, 2]"
    assert config.web.token == "1234567890123456"


def test_typed_keys_read_their_text(tmp_path, monkeypatch):
    monkeypatch.setenv("APOENA_SYSTEM__BARGE_IN", "false")
    monkeypatch.setenv("APOENA_SYSTEM__DEFAULT_STATE", "USER_TURN")
    monkeypatch.setenv("APOENA_REDIS__TTL_SECONDS", "60")
    monkeypatch.setenv("APOENA_GATE__CHANNEL_VARIABLE", "null")
    config = load_config(write(tmp_path, {"redis": {"url": "redis://file:6379/0"}, "gate": {"channel_variable": "X"}}))
    assert config.system.barge_in is False and config.system.default_state == CallState.USER_TURN
    assert config.redis.ttl_seconds == 60 and config.redis.url == "redis://file:6379/0"
    assert config.gate.channel_variable is None, "null unsets a key"


def test_well_known_names_in_dotenv_and_the_environment_winning(tmp_path, monkeypatch):
    path = write(tmp_path, {"redis": {"url": "redis://file:6379/0"}})
    (tmp_path / ".env").write_text("REDIS_URL=redis://dotenv:6379/0\nLLM_MODEL=qwen2.5:3b\nAPOENA_WEB_TOKEN=0000111122223333\n")
    config = load_config(path)
    assert (config.redis.url, config.brain.llm.model, config.web.token) == ("redis://dotenv:6379/0", "qwen2.5:3b", "0000111122223333")
    monkeypatch.setenv("REDIS_URL", "redis://env:6379/0")
    assert load_config(path).redis.url == "redis://env:6379/0"


def test_dotenv_names_that_are_not_keys_reach_the_engines_and_never_override(tmp_path, monkeypatch):
    path = write(tmp_path, {})
    (tmp_path / ".env").write_text("AZURE_SPEECH_KEY=from-dotenv\nAZURE_SPEECH_REGION=brazilsouth\n")
    monkeypatch.setenv("AZURE_SPEECH_REGION", "eastus")
    load_config(path)
    assert (os.environ["AZURE_SPEECH_KEY"], os.environ["AZURE_SPEECH_REGION"]) == ("from-dotenv", "eastus")


def test_bad_dotenv_value_names_the_variable_and_the_file(tmp_path):
    (tmp_path / ".env").write_text("APOENA_SERVER__PORT=noventa\n")
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, {}))
    message = str(error.value)
    assert message.startswith(f"APOENA_SERVER__PORT in {tmp_path / '.env'}: 'server.port'") and "noventa" in message
    assert "\n" not in message and error.value.exit_code == 2


@pytest.mark.parametrize(
    "name, expected",
    [
        ("APOENA_SYSTM__BARGE_IN", "environment variable APOENA_SYSTM__BARGE_IN: unknown section 'systm'"),
        ("APOENA_SYSTEM__BARGE", "environment variable APOENA_SYSTEM__BARGE: unknown key 'system.barge'"),
    ],
)
def test_misspelt_variable_is_named_not_skipped(tmp_path, monkeypatch, name, expected):
    monkeypatch.setenv(name, "1")
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, {}))
    assert str(error.value).startswith(expected) and "\n" not in str(error.value)


def test_a_bare_section_variable_is_not_this_configuration(tmp_path, monkeypatch):
    """The real-Asterisk tests set APOENA_ASTERISK=/work/asterisk (a folder): not JSON for a section."""
    monkeypatch.setenv("APOENA_ASTERISK", "/work/asterisk")
    monkeypatch.setenv("APOENA_CONFIG", str(write(tmp_path, {"asterisk": {"ring_seconds": 20}})))
    assert load_config().asterisk.ring_seconds == 20


def test_data_alone_reads_no_environment(monkeypatch):
    from concierge.config import Config

    monkeypatch.setenv("APOENA_SYSTEM__BARGE_IN", "false")
    assert Config.model_validate({}).system.barge_in is True


def test_a_bad_secret_is_named_but_never_echoed(tmp_path, monkeypatch):
    monkeypatch.setenv("APOENA_WEB_TOKEN", "curto-demais")
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, {}))
    message = str(error.value)
    assert message.startswith("environment variable APOENA_WEB_TOKEN: 'web.token' string should have at least 16 characters")
    assert "curto-demais" not in message and "(got 12 characters)" in message


def test_allowed_sources_take_addresses_and_networks_from_the_file_or_the_environment(tmp_path, monkeypatch):
    assert load_config(write(tmp_path, {})).server.allowed_sources == []
    config = load_config(write(tmp_path, {"server": {"allowed_sources": ["10.0.0.5", "10.0.1.0/24", "2001:db8::/32"]}}))
    assert config.server.allowed_sources == ["10.0.0.5", "10.0.1.0/24", "2001:db8::/32"]
    monkeypatch.setenv("APOENA_SERVER__ALLOWED_SOURCES", '["192.168.0.10"]')
    assert load_config(write(tmp_path, {})).server.allowed_sources == ["192.168.0.10"]


def test_an_allowed_source_that_is_no_address_is_one_clear_line(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, {"server": {"allowed_sources": ["asterisk.local"]}}))
    message = str(error.value)
    assert "server.allowed_sources" in message and "'asterisk.local' is not an IP address or network" in message
    assert "\n" not in message and error.value.exit_code == 2
