"""Load `config.json`, then environment / `.env` overrides, into validated pydantic models (pydantic-settings).

Overrides, strongest first: the environment, then a `.env` file beside the config file, then the
file. Names: ``APOENA_<SECTION>__<KEY>`` (e.g. ``APOENA_SYSTEM__SILENCE_THRESHOLD_SECONDS=0.6``) and
the well-known ``REDIS_URL``, ``DATABASE_URL``, ``LLM_MODEL``, ``LLM_API_KEY``, ``LLM_BASE_URL``, ``APOENA_WEB_TOKEN``.
A value is text that the key's type reads (``0.6``, ``true``; ``LLM_API_KEY=12345678`` stays text);
``null`` unsets a key. Relative paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from concierge.errors import ConfigError

ENV_PREFIX = "APOENA_"
ENV_ALIASES = {
    "REDIS_URL": ("redis", "url"),
    "DATABASE_URL": ("records", "url"),
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
    max_transaction_time_seconds: float = Field(
        180,
        gt=0,
        description=(
            "upper bound on one call, by the wall clock and by the caller's audio received, whichever comes first; "
            "a complete visit is bounded by asterisk.visit_timeout_seconds + 30 from then on, by the wall clock "
            "(env APOENA_SYSTEM__MAX_TRANSACTION_TIME_SECONDS)"
        ),
    )
    waiting_delay_seconds: float = Field(
        1.2,
        ge=0,
        le=10,
        description="an answer slower than this: 'Um momento, por favor.', then the waiting chime until it comes",
    )
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
    """Where `apoena serve` takes Asterisk's AudioSocket connections, and what one peer may cost it."""

    host: str = "127.0.0.1"
    port: int = Field(9092, ge=0, le=65535)
    max_connections_per_source: int = Field(
        0,
        ge=0,
        description=(
            "connections open at once from one IP address; past it a new one is hung up on before its UUID is read "
            "(env APOENA_SERVER__MAX_CONNECTIONS_PER_SOURCE). 0 = no limit, the default: one Asterisk is one source "
            "carrying every call and every resident leg, so set it above twice the calls your Asterisk sends this node"
        ),
    )
    allowed_sources: list[str] = Field(
        default_factory=list,
        description=(
            "IP addresses or networks (CIDR) AudioSocket connections may come from, e.g. [\"10.0.0.5\", "
            "\"10.0.1.0/24\"]: your Asterisk servers (env APOENA_SERVER__ALLOWED_SOURCES, as JSON). A connection from "
            "anywhere else is reset before anything is read. Empty, the default: any address"
        ),
    )
    max_new_connections_per_second: float = Field(
        50.0,
        ge=0,
        description=(
            "new AudioSocket connections taken a second, at most, in bursts of as many (env "
            "APOENA_SERVER__MAX_NEW_CONNECTIONS_PER_SECOND). Beyond it they wait in the kernel's listen queue, so a "
            "flood of connections (a scanner, a broken peer) takes a bounded share of the CPU the calls in progress "
            "need. Each call and each resident leg is one connection. 0 = no limit"
        ),
    )
    max_calls: int = Field(
        0,
        ge=0,
        description=(
            "visitors' calls this node answers at once; past it a new one is hung up on as soon as its UUID is read, "
            "so the dialplan's node list (docs/asterisk.md §7) tries the next node (env APOENA_SERVER__MAX_CALLS). "
            "Residents' legs of calls in progress are never refused. 0 = no limit"
        ),
    )
    @field_validator("allowed_sources")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.1.0/24)") from None
        return value

    audio_burst_seconds: float = Field(
        2.0,
        ge=0.1,
        le=60,
        description=(
            "audio a peer may send ahead of real time (network jitter) before its connection is read no faster than "
            "real time (env APOENA_SERVER__AUDIO_BURST_SECONDS)"
        ),
    )


class SpeechConfig(Strict):
    stt_engine: Literal["whisper", "azure"] = "whisper"
    stt_model: str = Field("base", min_length=1)
    tts_engine: Literal["auto", "rhvoice", "espeak", "azure"] = "auto"
    cache_dir: Path = Path(".apoena/cache")
    timeout_seconds: float = Field(
        8.0,
        gt=0,
        le=60,
        description=(
            "a transcription (queueing included) or a sentence's synthesis that takes longer is given up: the caller "
            "hears an apology and is asked to repeat, and the call record keeps why (env APOENA_SPEECH__TIMEOUT_SECONDS)"
        ),
    )


class RecordsConfig(Strict):
    path: Path = Path(".apoena/calls.db")
    url: str | None = Field(
        None, repr=False, description="postgresql://user:password@host/db: records in PostgreSQL, shared by nodes (else SQLite at path)"
    )
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


class CondominiumConfig(Strict):
    """One condominium a central serves. The dialplan names it by `code`, folded into the call's
    UUID (`…-000000000042`, see concierge/call/condominiums.py); keys left out are the top level's."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="for people, records, filters and metrics: 'jardins'")
    code: int = Field(ge=1, le=99_999_999, description="the dialplan's number for it: the UUID's last 8 digits, zero-padded")
    name: str = Field(min_length=1, description="said in the greeting and to the resident: 'Condomínio Jardins'")
    directory: Path = Field(description="its resident directory (JSON, the seed's shape)")
    greeting: str | None = Field(None, min_length=1, description="null: 'Portaria do <name>, em que posso ajudar?'")
    voice: str | None = Field(None, min_length=1, description="the Azure voice; null: greeting.voice")
    resident_context: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]+$", description="null: asterisk.resident_context")
    caller_id: str | None = Field(None, description="null: asterisk.caller_id")
    gate: GateConfig | None = Field(None, description="null: the top-level gate section")

    @property
    def greeting_message(self) -> str:
        return self.greeting or f"Portaria do {self.name}, em que posso ajudar?"


DEFAULT_CONDOMINIUM = "default"
"""The id of the condominium the top-level `greeting`, `directory` and `asterisk.condominium` describe."""


class Config(Strict):
    """The whole configuration: `load_config()` reads it; `Config.model_validate(data)` builds one from data alone."""

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
    condominiums: list[CondominiumConfig] = Field(default_factory=list)
    source: Path | None = Field(None, exclude=True)


class _Settings(BaseSettings, Config):
    """`Config` read through pydantic-settings: the file's data (init values), `.env`, the environment."""

    model_config = SettingsConfigDict(
        extra="forbid",
        validate_default=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_parse_none_str="null",
        dotenv_filtering="only_existing",  # AZURE_SPEECH_KEY & co. in .env are not config keys
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Strongest first: the environment, `.env`, then the file's data (passed as init values)."""
        env_file = getattr(dotenv_settings, "env_file", None)
        dotenv = _read_dotenv(Path(env_file)) if isinstance(env_file, (str, Path)) else {}
        return (
            _KeysOnly(settings_cls),
            _WellKnownNames(settings_cls, os.environ),
            _DotEnvKeysOnly(settings_cls, env_file=env_file),
            _WellKnownNames(settings_cls, dotenv),
            init_settings,
        )


class _OneKeyPerVariable:
    """Only ``APOENA_<SECTION>__<KEY>`` variables set keys. A bare ``APOENA_<SECTION>`` would be
    read as JSON for a whole section; it is ignored instead (the Asterisk tests' ``APOENA_ASTERISK``
    is a folder, not this section)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        _, key, is_complex = super().get_field_value(field, field_name)  # type: ignore[misc]
        return None, key, is_complex


class _KeysOnly(_OneKeyPerVariable, EnvSettingsSource):
    pass


class _DotEnvKeysOnly(_OneKeyPerVariable, DotEnvSettingsSource):
    pass


class _WellKnownNames(PydanticBaseSettingsSource):
    """`REDIS_URL`, `LLM_MODEL` & co. (ENV_ALIASES), each setting one key, as written."""

    def __init__(self, settings_cls: type[BaseSettings], variables: Mapping[str, str | None]) -> None:
        super().__init__(settings_cls)
        self.variables = variables

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads whole names, not fields

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, key in ENV_ALIASES.items():
            value = self.variables.get(name)
            if value is None:
                continue
            section = data
            for part in key[:-1]:
                section = section.setdefault(part, {})
            section[key[-1]] = None if value == "null" else value
        return data


def default_config_path() -> Path:
    """`./config.json` when present, else the project's own `config.json`."""
    local = Path("config.json")
    return local if local.is_file() else PROJECT_ROOT / "config.json"


def load_config(path: Path | str | None = None) -> Config:
    """Read, override and validate the configuration; raise ConfigError with one clear line.

    The `.env` beside the file also fills the environment with the names it sets that are not
    config keys (AZURE_SPEECH_KEY & co., read by the engines), as python-dotenv does: the real
    environment wins."""
    explicit = path is not None or "APOENA_CONFIG" in os.environ
    file = Path(path or os.environ.get("APOENA_CONFIG") or default_config_path())
    if not file.is_file():
        hint = "pass --config PATH" if not explicit else "check the path"
        raise ConfigError(f"config file not found: {file} — {hint}")
    data = _read_json(file)
    dotenv_file = file.parent / ".env"
    dotenv = _read_dotenv(dotenv_file)
    for name, value in dotenv.items():
        if value is not None and not _is_config_name(name):
            os.environ.setdefault(name, value)
    origins = {**_origins(dotenv, f" in {dotenv_file}"), **_origins(os.environ)}
    _check_sections(origins, data, file)
    try:
        settings = _Settings(_env_file=dotenv_file, **data)
    except ValidationError as error:
        raise ConfigError(_describe(error, file, origins)) from None
    except SettingsError as error:  # a value the sources could not even read
        raise ConfigError(f"{dotenv_file} or the environment: {error} — set one key per variable, as APOENA_<SECTION>__<KEY>") from None
    config = Config(**{name: getattr(settings, name) for name in Config.model_fields})
    check_condominiums(config, str(file))
    return _resolve_paths(config, file)


def check_condominiums(config: Config, where: str) -> None:
    """Each condominium's id and code name one condominium only; ConfigError with one line otherwise."""
    ids: set[str] = {DEFAULT_CONDOMINIUM}
    codes: set[int] = set()
    for index, condominium in enumerate(config.condominiums):
        key = f"condominiums.{index}"
        if condominium.id in ids:
            taken = "is the top-level condominium's" if condominium.id == DEFAULT_CONDOMINIUM else "is listed twice"
            raise ConfigError(f"{where}: '{key}.id' {condominium.id!r} {taken} — give each condominium its own id")
        if condominium.code in codes:
            raise ConfigError(f"{where}: '{key}.code' {condominium.code} is listed twice — give each condominium its own code")
        ids.add(condominium.id)
        codes.add(condominium.code)


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


def _read_dotenv(file: Path) -> dict[str, str | None]:
    if not file.is_file():
        return {}
    try:
        return dict(dotenv_values(file, encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: cannot be read ({error})") from None


def _is_config_name(name: str) -> bool:
    return name in ENV_ALIASES or name.upper().startswith(ENV_PREFIX)


def _origins(variables: Mapping[str, str | None], file: str = "") -> dict[tuple[str, ...], str]:
    """Which variable sets each dotted key: "environment variable NAME", or "NAME in FILE"."""
    origins: dict[tuple[str, ...], str] = {}
    for name in variables:
        said = f"{name}{file}" if file else f"environment variable {name}"
        if name in ENV_ALIASES:
            origins[ENV_ALIASES[name]] = said
        elif name.upper().startswith(ENV_PREFIX) and "__" in name:
            origins[tuple(part.lower() for part in name[len(ENV_PREFIX):].split("__"))] = said
    return origins


def _check_sections(origins: dict[tuple[str, ...], str], data: dict[str, Any], file: Path) -> None:
    """A variable or top-level key naming no section is a mistake (pydantic-settings would skip it)."""
    sections = [name for name, field in Config.model_fields.items() if not field.exclude]
    for key, origin in origins.items():
        if key[0] not in sections:
            raise ConfigError(f"{origin}: unknown section '{key[0]}' — use one of: {', '.join(sections)}")
    for name in data:
        if name.startswith("_"):  # BaseSettings would take `_env_file` & co. as its own arguments
            raise ConfigError(f"{file}: unknown key '{name}' — remove it or use one of: {', '.join(sections)}")


def _describe(error: ValidationError, file: Path, origins: dict[tuple[str, ...], str]) -> str:
    first = error.errors()[0]
    loc = tuple(str(part) for part in first["loc"])
    key = ".".join(loc)
    where = origins.get(loc, str(file))
    if first["type"] == "extra_forbidden":
        known = _known_keys(loc[:-1])
        return f"{where}: unknown key '{key}' — remove it or use one of: {', '.join(known)}"
    got = first.get("input")
    if isinstance(got, dict):
        shown = "an object"
    elif _is_secret(loc):  # a token or a password is never echoed to the terminal or a log
        shown = f"{len(got)} characters" if isinstance(got, str) else "a value hidden here"
    else:
        shown = json.dumps(got, ensure_ascii=False, default=str)
    return f"{where}: '{key}' {first['msg'][0].lower()}{first['msg'][1:]} (got {shown}) — fix {where}"


def _is_secret(loc: tuple[str, ...]) -> bool:
    model: type[BaseModel] = Config
    for part in loc:
        field = model.model_fields.get(part)
        if field is None:
            return False
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            model = field.annotation
        else:
            return field.repr is False
    return False


def _known_keys(section: tuple[str, ...]) -> list[str]:
    model: type[BaseModel] = Config
    for part in section:
        if part.isdigit():  # an entry of a list: condominiums.0
            continue
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        if annotation == list[CondominiumConfig]:
            annotation = CondominiumConfig
        if not isinstance(annotation, type) or not issubclass(annotation, BaseModel):
            return []
        model = annotation
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
            "condominiums": [c.model_copy(update={"directory": resolve(c.directory)}) for c in config.condominiums],
        }
    )
