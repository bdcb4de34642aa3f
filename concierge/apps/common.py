"""What several commands share: loading the configuration, the directory and the concierge."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from concierge.brain.concierge import Concierge
from concierge.brain.directory import Directory
from concierge.config import Config, load_config


@dataclass
class Setup:
    config: Config
    directory: Directory
    concierge: Concierge


def load_setup(config_path: Path | None, directory_path: Path | None, brain: str | None) -> Setup:
    """Config, directory, brain and memory, each checked now so a mistake stops us before any call."""
    from concierge.brain.factory import make_brain
    from concierge.brain.memory import open_store

    config = load_config(config_path)
    directory = Directory.load(directory_path or config.directory.path)
    chosen = make_brain(brain or config.brain.engine, directory, config)
    return Setup(config, directory, Concierge(chosen, open_store(config.redis)))


def configure_logging(level: int = logging.WARNING) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def tune_for_real_time() -> None:
    """Let the event loop get the GIL back within 1 ms (default 5 ms) after a worker thread ran
    Python code: measured in bench/pacing.py, p95 frame interval 28 ms -> 23 ms under load."""
    import sys

    sys.setswitchinterval(0.001)
