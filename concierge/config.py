"""Load `config.json` plus environment / `.env` overrides into validated pydantic models.

Overrides: ``APOENA_<SECTION>__<KEY>=value`` (e.g. ``APOENA_SYSTEM__SILENCE_THRESHOLD_SECONDS=0.6``),
plus the well-known ``REDIS_URL``. Values are parsed as JSON when they can be (numbers, booleans,
null), else taken as strings. Relative paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from concierge.errors import ConfigError

ENV_PREFIX = "APOENA_"
ENV_ALIASES = {
    "REDIS_URL": ("redis", "url"),
    "LLM_MODEL": ("brain", "llm", "model"),
    "LLM_API_KEY": ("brain", "llm", "api_key"),
    "LLM_BASE_URL": ("brain", "llm", "base_url"),
    "APOENA_WEB_TOKEN": ("web", "token"),
}
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class CallState(StrEnum):
    """The seed's four call states."""

    STANDBY = "STANDBY"
    USER_TURN = "USER_TURN"
    WAITING = "WAITING"
    IA_TURN = "IA_TURN"


class GreetingConfig(Strict):
    message: str = Field("Condomínio Apoena, em que posso ajudar?", min_length=1)
    voice: str = "pt-BR-AntonioNeural"
    delay_seconds: float = Field(0.0, ge=0, le=10)


class SystemConfig(Strict):
    default_state: CallState = CallState.STANDBY
    silence_threshold_seconds: float = Field(0.7, gt=0.1, le=5)
    max_transaction_time_seconds: float = Field(180, gt=0)
    waiting_delay_seconds: float = Field(3.0, ge=0)
    barge_in: bool = True
    no_input_prompt_seconds: float = Field(
        5.0,
        ge=1,
        le=60,
        description="silence in the visitor's turn before 'Alô? Pode falar…'; two unanswered prompts end the call",
    )


class AudioConfig(Strict):
    sample_rate: Literal[8000] = 8000
    channels: Literal[1] = 1
    format: Literal["SLIN"] = "SLIN"
    chunk_size: int = Field(320, gt=0, multiple_of=2)


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(9092, ge=0, le=65535)


class SpeechConfig(Strict):
    stt_engine: Literal["whisper", "azure"] = "whisper"
    stt_model: str = Field("base", min_length=1)
    tts_engine: Literal["auto", "rhvoice", "espeak", "azure"] = "auto"
    cache_dir: Path = Path(".apoena/cache")


class RecordsConfig(Strict):
    path: Path = Path(".apoena/calls.db")
    retention_days: float = Field(30, gt=0, description="calls older than this are purged (LGPD)")


class WebConfig(Strict):
    """The monitoring page, its JSON API and /metrics, served by `apoena serve` beside AudioSocket."""

    model_config = ConfigDict(extra="forbid", validate_default=True, coerce_numbers_to_str=True)  # an all-digit token from env

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    token: str | None = Field(None, min_length=16, repr=False, description="needed to serve anywhere but localhost")

    @field_validator("token", mode="before")
    @classmethod
    def _blank_is_no_token(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class LLMConfig(Strict):
    """Any OpenAI-compatible model: OpenAI, Azure OpenAI, Groq, a local Ollama or llama.cpp server."""

    model: str | None = Field(None, description='e.g. "gpt-4o-mini", "ollama/llama3.1", "openai/qwen2.5"')
    api_key: str | None = Field(None, repr=False)
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1")
    timeout_seconds: float | None = Field(None, gt=0, description="one model call; null = fitted to the model at start")
    turn_deadline_seconds: float | None = Field(
        None, gt=0, description="a whole turn, the retry included; null = fitted to the model at start"
    )
    startup_timeout_seconds: float = Field(180, gt=0, description="the test turn timed at start (a model may load first)")
    slow_turn_seconds: float = Field(
        5, gt=0, description="a test turn slower than this is reported at start as too slow for phone calls"
    )


class BrainConfig(Strict):
    engine: Literal["rules", "crewai"] = "rules"
    llm: LLMConfig = LLMConfig()


class DirectoryConfig(Strict):
    path: Path = Path("data/apartamentos.json")


class RedisConfig(Strict):
    url: str | None = None
    embedded_path: Path = Path(".apoena/memory.db")
    ttl_seconds: int = Field(86400, gt=0)


class AMIConfig(Strict):
    """The Asterisk Manager Interface Apoena logs in to, to call residents (manager.conf on Asterisk's side)."""

    model_config = ConfigDict(extra="forbid", validate_default=True, coerce_numbers_to_str=True)  # an all-digit secret from env

    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(5038, ge=1, le=65535)
    username: str = Field("apoena", min_length=1)
    secret: str | None = Field(None, repr=False, description="env APOENA_ASTERISK__AMI__SECRET or .env; never in config.json")
    timeout_seconds: float = Field(5.0, gt=0, le=60, description="connecting, logging in, and each action's answer")

    @field_validator("secret", mode="before")
    @classmethod
    def _blank_is_no_secret(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class AsteriskConfig(Strict):
    """How Apoena calls a resident: an AMI Originate into a dialplan context that answers into AudioSocket."""

    ami: AMIConfig = AMIConfig()
    resident_context: str = Field(
        "apoena-resident", pattern=r"^[A-Za-z0-9_-]+$", description="dialplan context the resident's answered call runs"
    )
    audiosocket_host: str = Field(
        "127.0.0.1", pattern=r"^[A-Za-z0-9._\[\]:-]+$", description="how Asterisk reaches Apoena's AudioSocket server"
    )
    ring_seconds: float = Field(30, ge=5, le=120, description="how long each dial string rings before the next is tried")
    leg_arrival_seconds: float = Field(
        10, gt=0, le=60, description="an answered resident leg must reach the AudioSocket server within this"
    )
    visit_timeout_seconds: float = Field(
        150, ge=10, le=900, description="from a complete visit to the resident's decision, ringing included"
    )
    resident_silence_seconds: float = Field(
        6, ge=1, le=30, description="the resident's silence after the question before it is asked again"
    )
    waiting_update_seconds: float = Field(
        15, ge=5, le=120, description="how often the waiting visitor hears 'Ainda estou tentando falar…'"
    )
    condominium: str = Field("Condomínio Apoena", min_length=1, description="how the resident hears the gate introduce itself")
    caller_id: str | None = Field('"Portaria Apoena" <portaria>', description="CallerID of the call to the resident")

    @property
    def enabled(self) -> bool:
        """Residents are called only when the Manager secret is set (env or .env)."""
        return self.ami.secret is not None


class WebhookConfig(Strict):
    """An HTTP POST of each decision (JSON) to a gate controller or a messaging bridge."""

    url: str | None = Field(None, pattern=r"^https?://", description="where to POST; null = no webhook")
    token: str | None = Field(None, repr=False, description="sent as Authorization: Bearer TOKEN (env APOENA_GATE__WEBHOOK__TOKEN)")
    timeout_seconds: float = Field(3.0, gt=0, le=30, description="one attempt")
    attempts: int = Field(3, ge=1, le=10, description="tries before giving up (1 s, 2 s, 4 s… apart)")


class GateConfig(Strict):
    """What a decision does: a channel variable the dialplan reads after AudioSocket() returns, a webhook."""

    channel_variable: str | None = Field(
        "APOENA_DECISION", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="set on the visitor's channel (found by its APOENA_CALL variable) through AMI; null = off",
    )
    webhook: WebhookConfig = WebhookConfig()


class Config(Strict):
    greeting: GreetingConfig = GreetingConfig()
    system: SystemConfig = SystemConfig()
    audio: AudioConfig = AudioConfig()
    server: ServerConfig = ServerConfig()
    speech: SpeechConfig = SpeechConfig()
    brain: BrainConfig = BrainConfig()
    directory: DirectoryConfig = DirectoryConfig()
    redis: RedisConfig = RedisConfig()
    records: RecordsConfig = RecordsConfig()
    web: WebConfig = WebConfig()
    asterisk: AsteriskConfig = AsteriskConfig()
    gate: GateConfig = GateConfig()
    source: Path | None = Field(None, exclude=True)


def default_config_path() -> Path:
    """`./config.json` when present, else the project's own `config.json`."""
    local = Path("config.json")
    return local if local.is_file() else PROJECT_ROOT / "config.json"


def load_config(path: Path | str | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read, override and validate the configuration; raise ConfigError with one clear line."""
    explicit = path is not None or "APOENA_CONFIG" in (environ or os.environ)
    file = Path(path or (environ or os.environ).get("APOENA_CONFIG") or default_config_path())
    if not file.is_file():
        hint = "pass --config PATH" if not explicit else "check the path"
        raise ConfigError(f"config file not found: {file} — {hint}")
    data = _read_json(file)
    dotenv = _read_dotenv(file.parent / ".env")
    if environ is None:  # like python-dotenv: .env fills what the real environment leaves unset
        for name, value in dotenv.items():  # (AZURE_SPEECH_KEY & co. are read by the engines)
            os.environ.setdefault(name, value)
    env = {**dotenv, **(environ if environ is not None else os.environ)}
    origins = _apply_overrides(data, env)
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error, file, origins)) from None
    return _resolve_paths(config, file)


def _read_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ConfigError(f"{file}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: cannot be read ({error})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: must hold a JSON object with sections like \"greeting\" and \"system\"")
    return data


def _read_dotenv(file: Path) -> dict[str, str]:
    """KEY=value lines of a `.env` file; comments, blanks and `export ` prefixes allowed."""
    if not file.is_file():
        return {}
    values: dict[str, str] = {}
    for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip().removeprefix("export ").strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _apply_overrides(data: dict[str, Any], env: dict[str, str]) -> dict[tuple[str, ...], str]:
    """Write env overrides into `data`; return which env variable set each dotted key."""
    origins: dict[tuple[str, ...], str] = {}
    for name, value in env.items():
        if name in ENV_ALIASES:
            key = ENV_ALIASES[name]
        elif name.startswith(ENV_PREFIX) and "__" in name:
            key = tuple(part.lower() for part in name[len(ENV_PREFIX):].split("__"))
        else:
            continue
        section = data
        for part in key[:-1]:
            existing = section.get(part)
            section = section.setdefault(part, {}) if existing is None else existing
            if not isinstance(section, dict):
                break
        else:
            section[key[-1]] = _parse_env_value(value)
            origins[key] = name
    return origins


def _parse_env_value(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _describe(error: ValidationError, file: Path, origins: dict[tuple[str, ...], str]) -> str:
    first = error.errors()[0]
    loc = tuple(str(part) for part in first["loc"])
    key = ".".join(loc)
    where = f"environment variable {origins[loc]}" if loc in origins else str(file)
    if first["type"] == "extra_forbidden":
        known = _known_keys(loc[:-1])
        return f"{where}: unknown key '{key}' — remove it or use one of: {', '.join(known)}"
    got = first.get("input")
    shown = json.dumps(got, ensure_ascii=False, default=str) if not isinstance(got, dict) else "an object"
    return f"{where}: '{key}' {first['msg'][0].lower()}{first['msg'][1:]} (got {shown}) — fix it in {where}"


def _known_keys(section: tuple[str, ...]) -> list[str]:
    model: type[BaseModel] = Config
    for part in section:
        field = model.model_fields.get(part)
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return []
        model = field.annotation
    return [name for name, field in model.model_fields.items() if not field.exclude]


def _resolve_paths(config: Config, file: Path) -> Config:
    base = file.resolve().parent

    def resolve(path: Path) -> Path:
        return path if path.is_absolute() else base / path

    return config.model_copy(
        update={
            "source": file.resolve(),
            "directory": config.directory.model_copy(update={"path": resolve(config.directory.path)}),
            "redis": config.redis.model_copy(update={"embedded_path": resolve(config.redis.embedded_path)}),
            "speech": config.speech.model_copy(update={"cache_dir": resolve(config.speech.cache_dir)}),
            "records": config.records.model_copy(update={"path": resolve(config.records.path)}),
        }
    )
