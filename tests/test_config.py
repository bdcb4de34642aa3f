"""Configuration: the seed's keys and defaults, env/.env overrides, and one clear line per mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from concierge.config import CallState, load_config
from concierge.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_shipped_config_keeps_the_seed_keys_and_defaults():
    config = load_config(ROOT / "config.json", environ={})
    assert config.greeting.message == "Condomínio Apoena, em que posso ajudar?"
    assert config.system.default_state == CallState.STANDBY
    assert (config.audio.sample_rate, config.audio.channels, config.audio.format, config.audio.chunk_size) == (8000, 1, "SLIN", 320)
    assert config.directory.path == ROOT / "data" / "apartamentos.json"


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    config = load_config(write(tmp_path, {"directory": {"path": "dir.json"}}), environ={})
    assert config.directory.path == tmp_path / "dir.json"
    assert config.redis.embedded_path == tmp_path / ".apoena" / "memory.db"


def test_environment_overrides_file_and_parses_numbers(tmp_path):
    path = write(tmp_path, {"system": {"silence_threshold_seconds": 0.9}})
    env = {"APOENA_SYSTEM__SILENCE_THRESHOLD_SECONDS": "0.5", "REDIS_URL": "redis://example:6379/1"}
    config = load_config(path, environ=env)
    assert config.system.silence_threshold_seconds == 0.5
    assert config.redis.url == "redis://example:6379/1"


def test_dotenv_beside_the_config_is_read_and_real_environment_wins(tmp_path):
    path = write(tmp_path, {})
    (tmp_path / ".env").write_text("# comment\nexport APOENA_GREETING__MESSAGE='Olá, portaria'\nAPOENA_SERVER__PORT=9100\n")
    config = load_config(path, environ={"APOENA_SERVER__PORT": "9200"})
    assert config.greeting.message == "Olá, portaria"
    assert config.server.port == 9200


def test_unknown_key_names_the_key_and_the_known_ones(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, {"system": {"silence_treshold_seconds": 1}}), environ={})
    message = str(error.value)
    assert "unknown key 'system.silence_treshold_seconds'" in message
    assert "silence_threshold_seconds" in message and "\n" not in message
    assert error.value.exit_code == 2


def test_wrong_type_names_the_key_and_the_value(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, {"audio": {"sample_rate": "oito mil"}}), environ={})
    assert "'audio.sample_rate'" in str(error.value) and "oito mil" in str(error.value)


def test_bad_override_names_the_environment_variable(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, {}), environ={"APOENA_SERVER__PORT": "many"})
    assert "APOENA_SERVER__PORT" in str(error.value)


@pytest.mark.parametrize("content, expected", [("{not json", "not valid JSON"), ("[1, 2]", "JSON object")])
def test_malformed_file_is_one_clear_line(tmp_path, content, expected):
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, content), environ={})


def test_missing_file_says_how_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.json", environ={})


def test_no_input_prompt_seconds_defaults_to_five_and_is_bounded(tmp_path):
    assert load_config(write(tmp_path, {}), environ={}).system.no_input_prompt_seconds == 5.0
    slower = load_config(write(tmp_path, {"system": {"no_input_prompt_seconds": 8}}), environ={})
    assert slower.system.no_input_prompt_seconds == 8
    for bad in (0.5, 120, "soon"):
        with pytest.raises(ConfigError, match="system.no_input_prompt_seconds"):
            load_config(write(tmp_path, {"system": {"no_input_prompt_seconds": bad}}), environ={})


def test_asterisk_defaults_reach_a_local_manager():
    asterisk = load_config(ROOT / "config.json", environ={}).asterisk
    assert (asterisk.ami.host, asterisk.ami.port, asterisk.ami.username, asterisk.ami.secret) == ("127.0.0.1", 5038, "apoena", None)
    assert asterisk.resident_context == "apoena-resident" and asterisk.ring_seconds == 30


def test_ami_secret_comes_from_the_environment_or_dotenv_and_never_shows(tmp_path):
    path = write(tmp_path, {"asterisk": {"ami": {"host": "pbx.local", "username": "portaria"}, "resident_context": "moradores"}})
    (tmp_path / ".env").write_text("APOENA_ASTERISK__AMI__SECRET=123456\n")
    config = load_config(path, environ={"APOENA_ASTERISK__RING_SECONDS": "20"})
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
        load_config(write(tmp_path, {"asterisk": section}), environ={})
    assert "\n" not in str(error.value)


def test_residents_are_called_only_once_the_manager_secret_is_set(tmp_path):
    shipped = load_config(ROOT / "config.json", environ={})
    assert not shipped.asterisk.enabled, "the shipped config asks nobody: decisions are not_asked"
    assert (shipped.asterisk.visit_timeout_seconds, shipped.asterisk.waiting_update_seconds) == (150, 15)
    assert shipped.gate.channel_variable == "APOENA_DECISION" and shipped.gate.webhook.url is None
    enabled = load_config(write(tmp_path, {}), environ={"APOENA_ASTERISK__AMI__SECRET": "s3cret"})
    assert enabled.asterisk.enabled


def test_the_webhook_token_comes_from_the_environment_and_never_shows(tmp_path):
    path = write(tmp_path, {"gate": {"webhook": {"url": "http://127.0.0.1:8081/portao", "attempts": 5}}})
    config = load_config(path, environ={"APOENA_GATE__WEBHOOK__TOKEN": "gate-token-123"})
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
        load_config(write(tmp_path, {"gate": section}), environ={})
    assert "\n" not in str(error.value)
