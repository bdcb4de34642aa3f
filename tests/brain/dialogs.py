"""Run the dialog files in tests/dialogs against any brain, and the checks every reply must pass.

Splits: `tuned` (tests/dialogs/*.json, written alongside the brain), `dev` (tests/dialogs/dev/,
written without reading the brain, used to develop it) and `blind` (tests/dialogs/blind/batch*/,
written without reading the brain and never tuned on: the honest measure). A dialog may name a
`directory` file in its folder's `directories/`; otherwise it is data/apartamentos.json. The
visitor follows the script, and answers read-backs and keypad requests truthfully
(`concierge.apps.visitor`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from functools import cache

from concierge.apps.visitor import answer, same_slot
from concierge.brain.directory import Directory
from concierge.brain.reply import Reply
from concierge.brain.text import fold

DIALOGS_DIR = Path(__file__).resolve().parent.parent / "dialogs"
DEFAULT_DIRECTORY = DIALOGS_DIR.parent.parent / "data" / "apartamentos.json"
SPLITS = {"tuned": "*.json", "dev": "dev/*.json", "blind1": "blind/batch1/*.json", "blind2": "blind/batch2/*.json", "blind3": "blind/batch3/*.json", "blind4": "blind/batch4/*.json", "blind5": "blind/batch5/*.json", "blind6": "blind/batch6/*.json", "blind7": "blind/batch7/*.json", "blind8": "blind/batch8/*.json", "blind9": "blind/batch9/*.json", "blind10": "blind/batch10/*.json", "blind11": "blind/batch11/*.json", "blind12": "blind/batch12/*.json", "blind13": "blind/batch13/*.json", "blind14": "blind/batch14/*.json", "blind15": "blind/batch15/*.json", "blind16": "blind/batch16/*.json", "blind17": "blind/batch17/*.json", "blind18": "blind/batch18/*.json", "blind19": "blind/batch19/*.json", "blind20": "blind/batch20/*.json"}
MAX_EXTRA_TURNS = 3  # read-back answers and keypad entries a dialog may add to its script

# How each slot is asked for; a reply must never ask for a slot that is filled after the turn.
QUESTIONS = {
    "intent_type": re.compile(r"entrega ou (uma )?visita"),
    "apartment_number": re.compile(r"qual e o (numero do )?apartamento|para qual apartamento|confirmar o apartamento"),
    "resident_name": re.compile(r"para quem|quem voce veio visitar|nome do morador|nome completo"),
    "visitor_name": re.compile(r"seu nome"),
}
GATE_OPENED = re.compile(r"portao (esta )?aberto|pode entrar|entrada liberada|liberei|abri o portao|vou abrir")


def load_dialogs(split: str = "tuned") -> list[dict]:
    dialogs = []
    for file in sorted(DIALOGS_DIR.glob(SPLITS[split])):
        for dialog in json.loads(file.read_text(encoding="utf-8")):
            directory = file.parent / "directories" / dialog["directory"] if dialog.get("directory") else DEFAULT_DIRECTORY
            dialogs.append({**dialog, "file": str(file.relative_to(DIALOGS_DIR)), "directory_path": str(directory)})
    return dialogs


@cache
def dialog_directory(path: str) -> Directory:
    return Directory.load(Path(path))


def run_dialog(respond, dialog: dict) -> tuple[list[str], list[Reply]]:
    """Play the dialog's script through `respond(utterance) -> Reply`, answering read-backs and
    keypad requests as a truthful visitor would; return (what the visitor said, the replies)."""
    said: list[str] = []
    replies: list[Reply] = []
    script = list(dialog["turns"])
    extra = 0
    while script:
        utterance = script.pop(0)
        while True:
            said.append(utterance)
            replies.append(respond(utterance))
            reply = replies[-1]
            if reply.valid_for_action:
                return said, replies
            response = answer(reply.mensagem, reply.dados, dialog["expect"], dialog.get("if_asked"))
            if response is None or extra >= MAX_EXTRA_TURNS:
                break
            extra += 1
            utterance = response.text or response.digits.rstrip("#")
    return said, replies


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
    return [
        f"{key}: expected {want!r}, got {got[key]!r}"
        for key, want in dialog["expect"].items()
        if key in got and not same_slot(key, want, got[key])
    ]


def play(brain, dialog: dict, on_turn=None) -> tuple[list[str], list[Reply]]:
    """Run the dialog against `brain` with an in-process memory (no Redis: this is about
    understanding); `on_turn(seconds)` hears how long each turn took."""
    import time

    from concierge.brain.memory import Conversation

    conversation = Conversation(id=dialog["name"])

    def respond(utterance: str) -> Reply:
        started = time.perf_counter()
        conversation.add("visitor", utterance)
        reply = brain.respond(conversation, utterance)
        conversation.add("concierge", reply.mensagem)
        if on_turn is not None:
            on_turn(time.perf_counter() - started)
        return reply

    return run_dialog(respond, dialog)


def wrongly_valid(dialog: dict, reply: Reply) -> bool:
    """The worst failure: the visit is complete, but for the wrong apartment or resident."""
    if not reply.valid_for_action:
        return False
    expect = dialog["expect"]
    if expect.get("valid_for_action") is False:
        return True
    return any(
        key in expect and reply.dados.model_dump(mode="json")[key] != expect[key]
        for key in ("apartment_number", "resident_name")
    )


def directory_of(path: Path, units: dict[str, list[str]]) -> Directory:
    """A directory of our own, written to `path`: apartment -> its residents."""
    path.write_text(json.dumps([{"apartment_number": k, "residents": v} for k, v in units.items()]), encoding="utf-8")
    return Directory.load(path)


def talk(directory: Directory, turns: list[str], **expect) -> tuple[dict, list[Reply]]:
    """Play `turns` through the rules brain (a read-back is answered "Isso."): the dialog and its replies."""
    from concierge.brain.rules import RulesBrain

    dialog = {"name": "t", "turns": turns, "if_asked": {"confirm_yes": "Isso."}, "expect": expect}
    _, replies = play(RulesBrain(directory), dialog)
    return dialog, replies
