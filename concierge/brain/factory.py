"""Pick the brain named in the configuration or on the command line."""

from __future__ import annotations

from concierge.brain.base import Brain
from concierge.brain.directory import Directory
from concierge.config import Config
from concierge.errors import UserError

BRAINS = ("rules", "crewai")


def make_brain(name: str, directory: Directory, config: Config) -> Brain:
    if name == "rules":
        from concierge.brain.rules import RulesBrain

        return RulesBrain(directory)
    if name == "crewai":
        from concierge.brain.crew import make_crew_brain

        return make_crew_brain(directory, config)
    raise UserError(f"unknown brain '{name}' — choose one of: {', '.join(BRAINS)}")
