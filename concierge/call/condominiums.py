"""Which condominium a call belongs to, and what it gets: its directory, brain, Whisper prompt, greeting, gate.

The dialplan names the condominium inside the call's UUID, the one thing AudioSocket carries: the
last group is `0000` and the condominium's `code`, zero-padded to 8 digits
(``Set(APOENA_CALL=${UUID():0:24}000000000042)`` for code 42; the first 24 characters are
Asterisk's own random UUID, so call ids still differ from their first characters on). A plain
``${UUID()}`` (no code), or a code no condominium has, gets the default condominium (the
top-level `greeting` and `directory`), logged.

Each condominium's services are built on its first call and kept (a brain, a Concierge on the
shared memory, the prompt, the greeting rendered once), sharing the process's speech engines and
thread pools. At each call start the directory file's mtime and size are checked: a changed file
is loaded again and the condominium's services rebuilt; a broken one keeps the old directory in
use and logs one error line (once per change of the file).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from concierge.brain.concierge import Concierge
from concierge.brain.directory import Directory
from concierge.call.services import CallServices, render_phrases
from concierge.config import DEFAULT_CONDOMINIUM, Config, CondominiumConfig
from concierge.errors import ConfigError
from concierge.speech.base import Synthesizer

log = logging.getLogger("apoena.condominiums")

CODE_MARK = "0000"
"""The start of the UUID's last group when the rest of it is a condominium's code."""


def condominium_code(call_id: uuid.UUID | str) -> int | None:
    """The condominium code the dialplan folded into the call's UUID, or None for a plain UUID."""
    last = str(call_id).rpartition("-")[2]
    if len(last) == 12 and last.startswith(CODE_MARK) and last.isdigit():
        return int(last) or None
    return None


def call_uuid(code: int, random_uuid: uuid.UUID | None = None) -> uuid.UUID:
    """The UUID the documented dialplan builds for a call to condominium `code` (for tests and `simulate`)."""
    head = str(random_uuid or uuid.uuid4())[:24]
    return uuid.UUID(f"{head}{CODE_MARK}{code:08d}")


def code_for(config: Config, condominium: str | None) -> int | None:
    """The code a call to `condominium` (an id from config `condominiums`) carries in its UUID, for
    `apoena simulate` and `apoena mic`; None for the default one. ConfigError names the ids there are."""
    if condominium is None or condominium == DEFAULT_CONDOMINIUM:
        return None
    for entry in config.condominiums:
        if entry.id == condominium:
            return entry.code
    known = ", ".join(entry.id for entry in config.condominiums) or "none — add a `condominiums` list to config.json"
    raise ConfigError(f"--condominium {condominium!r}: no such condominium in the config (configured: {known})")


def condominium_ids(config: Config) -> list[str]:
    """Every configured condominium's id, the default one first: the only values a metrics label takes."""
    return [DEFAULT_CONDOMINIUM, *(condominium.id for condominium in config.condominiums)]


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


@dataclass
class Condominium:
    """One condominium: its settings, the directory in use, and its call services once built."""

    id: str
    code: int | None
    name: str
    config: Config  # the top-level config with this condominium's greeting, name and gate in place
    directory_path: Path
    directory: Directory
    stamp: tuple[int, int] | None
    services: CallServices | None = None
    refused: tuple[int, int] | None = field(default=None, repr=False)  # the broken file's stamp, logged once

    def reload_if_changed(self) -> bool:
        """Load the directory again when its file changed; True when a new one is in use."""
        stamp = _stamp(self.directory_path)
        if stamp == self.stamp or stamp == self.refused:
            return False
        try:
            directory = Directory.load(self.directory_path)
        except ConfigError as error:
            self.refused = stamp
            log.error("condominium %s: directory not reloaded, the previous one stays in use: %s", self.id, error)
            return False
        self.directory, self.stamp, self.refused, self.services = directory, stamp, None, None
        log.info("condominium %s: directory %s reloaded (%d apartments)", self.id, self.directory_path, len(directory.apartments))
        return True


def condominium_config(base: Config, condominium: CondominiumConfig) -> Config:
    """The configuration a call of `condominium` runs with: the top level, with its own keys in place."""
    asterisk = {"condominium": condominium.name}
    if condominium.resident_context is not None:
        asterisk["resident_context"] = condominium.resident_context
    if "caller_id" in condominium.model_fields_set:
        asterisk["caller_id"] = condominium.caller_id
    greeting = {"message": condominium.greeting_message}
    if condominium.voice is not None:
        greeting["voice"] = condominium.voice
    return base.model_copy(
        update={
            "greeting": base.greeting.model_copy(update=greeting),
            "directory": base.directory.model_copy(update={"path": condominium.directory}),
            "asterisk": base.asterisk.model_copy(update=asterisk),
            "gate": condominium.gate or base.gate,
            "condominiums": [],
        }
    )


class Condominiums:
    """Every condominium this server answers for, by code; the default one for any other call."""

    def __init__(self, base: CallServices, directory: Directory, directory_path: Path | None = None) -> None:
        """`base` is the default condominium's services (built at start), `directory` its directory,
        read from `directory_path` (default: directory.path). Every other condominium's directory is
        loaded now, so a broken one stops the start with one line (ConfigError)."""
        self.base = base
        config = base.config
        path = Path(directory_path or config.directory.path)
        self.default = Condominium(
            DEFAULT_CONDOMINIUM, None, config.asterisk.condominium, config, path, directory, _stamp(path), base
        )
        self.by_code: dict[int, Condominium] = {}
        for entry in config.condominiums:
            self.by_code[entry.code] = Condominium(
                entry.id, entry.code, entry.name, condominium_config(config, entry), entry.directory,
                Directory.load(entry.directory), _stamp(entry.directory),
            )  # fmt: skip
        base.condominium, base.directory = DEFAULT_CONDOMINIUM, directory
        self._building: dict[str, asyncio.Lock] = {}
        self._voices: dict[str, Synthesizer] = {config.greeting.voice: base.synthesizer}

    def route(self, call_id: uuid.UUID | str) -> Condominium:
        """The condominium the call's UUID names; the default one (logged) when it names none."""
        code = condominium_code(call_id)
        condominium = self.by_code.get(code) if code is not None else None
        if condominium is not None:
            return condominium
        if code is None:
            log.info("call %s: no condominium code in its UUID: the default condominium (%s)", call_id, self.default.name)
        else:
            log.warning("call %s: no condominium has code %d: the default condominium (%s)", call_id, code, self.default.name)
        return self.default

    async def services_for(self, call_id: uuid.UUID | str) -> CallServices:
        """The call's condominium's services: reloaded if its directory changed, built on first use
        (off the event loop: the greeting may be synthesized)."""
        return await self._ready(self.route(call_id), call_id)

    async def warm(self) -> None:
        """Build every condominium's services now, one at a time, off the event loop: started in the
        background once the server listens, so first calls find their greeting already rendered
        (a new greeting costs a synthesis, 0.4 s with RHVoice on an idle machine; the disk cache
        keeps it for the next start)."""
        started = time.perf_counter()
        for condominium in self.by_code.values():
            await self._ready(condominium, "warm-up")
        if self.by_code:
            log.info("%d condominiums ready in %.1f s", len(self.by_code), time.perf_counter() - started)

    async def _ready(self, condominium: Condominium, call_id: uuid.UUID | str) -> CallServices:
        lock = self._building.setdefault(condominium.id, asyncio.Lock())
        async with lock:
            condominium.reload_if_changed()
            if condominium.services is None:
                loop = asyncio.get_running_loop()
                try:
                    condominium.services = await loop.run_in_executor(self.base.work_pool, self._build, condominium)
                except Exception:  # a call is never left in silence: it gets the default condominium
                    log.exception("condominium %s: cannot be set up; call %s gets the default condominium", condominium.id, call_id)
                    return self.default.services or self.base
        return condominium.services

    def _build(self, condominium: Condominium) -> CallServices:
        """A condominium's services: the shared engines, pools, memory and Manager with its own
        brain, prompt, greeting and gate."""
        from concierge.brain.factory import make_brain
        from concierge.call.gate import Gate
        from concierge.speech.whisper import directory_prompt

        base, config, directory = self.base, condominium.config, condominium.directory
        brain = make_brain(config.brain.engine, directory, config)
        names, apartments = directory.prompt_terms()
        gate = base.gate
        if base.gate is not None and config.gate is not base.config.gate:
            gate = Gate(config.gate, base.gate.ami)
        synthesizer = self._synthesizer(config)
        services = replace(
            base,
            config=config,
            concierge=Concierge(brain, base.concierge.store),
            synthesizer=synthesizer,
            stt_prompt=directory_prompt(names, apartments),
            greeting_pcm=synthesizer.synthesize(config.greeting.message),
            phrases=base.phrases if synthesizer is base.synthesizer else render_phrases(synthesizer),
            gate=gate,
            directory=directory,
            condominium=condominium.id,
        )
        log.info("condominium %s (%s): ready, %d apartments", condominium.id, condominium.name, len(directory.apartments))
        return services

    def _synthesizer(self, config: Config) -> Synthesizer:
        """The voice a condominium speaks with: its own Azure voice (one synthesizer per voice, on
        the same cache), else the process's; the local engines have one voice each."""
        voice = config.greeting.voice
        if config.speech.tts_engine != "azure":
            return self.base.synthesizer
        if voice not in self._voices:
            from concierge.speech.factory import make_synthesizer

            self._voices[voice] = make_synthesizer("azure", cache_dir=config.speech.cache_dir / "tts", voice=voice)
        return self._voices[voice]
