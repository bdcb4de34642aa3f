"""Run the dialog files in tests/dialogs against any brain, and the checks every reply must pass."""

from __future__ import annotations

import json
import re
from pathlib import Path

from concierge.brain.reply import Reply
from concierge.brain.text import fold

DIALOGS_DIR = Path(__file__).resolve().parent.parent / "dialogs"

# How each slot is asked for; a reply must never ask for a slot that is filled after the turn.
QUESTIONS = {
    "intent_type": re.compile(r"entrega ou (uma )?visita"),
    "apartment_number": re.compile(r"qual e o (numero do )?apartamento|para qual apartamento|confirmar o apartamento"),
    "resident_name": re.compile(r"para quem|quem voce veio visitar|nome do morador|nome completo"),
    "visitor_name": re.compile(r"seu nome"),
}
GATE_OPENED = re.compile(r"portao (esta )?aberto|pode entrar|entrada liberada|liberei|abri o portao|vou abrir")


def load_dialogs() -> list[dict]:
    dialogs = []
    for file in sorted(DIALOGS_DIR.glob("*.json")):
        for dialog in json.loads(file.read_text(encoding="utf-8")):
            dialogs.append({**dialog, "file": file.name})
    return dialogs


def reasked_slots(reply: Reply) -> list[str]:
    """Slots that are filled in this reply's data yet asked for in its message."""
    said = fold(reply.mensagem)
    filled = reply.dados.model_dump()
    asked = []
    for slot, pattern in QUESTIONS.items():
        value = filled[slot]
        if value not in (None, "desconhecido") and pattern.search(said):
            asked.append(slot)
    return asked


def check_final(dialog: dict, reply: Reply) -> list[str]:
    """Differences between the dialog's expectations and the last reply."""
    got = {**reply.dados.model_dump(mode="json"), "valid_for_action": reply.valid_for_action}
    return [f"{key}: expected {want!r}, got {got[key]!r}" for key, want in dialog["expect"].items() if got[key] != want]
