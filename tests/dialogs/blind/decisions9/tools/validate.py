#!/usr/bin/env python3
"""Validate blind resident answers set 4 (stdlib only): shape, unique ids, classes, lengths, spread."""
import collections
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASSES = {"authorize", "deny", "leave_at_gate", "resident_coming", "question", "voicemail", "unclear"}
errors = []
try:
    items = json.loads((ROOT / "answers.json").read_text(encoding="utf-8"))
except Exception as error:  # noqa: BLE001
    print(f"ERROR: answers.json: {error}")
    sys.exit(1)
if not isinstance(items, list) or not 150 <= len(items) <= 200:
    errors.append(f"answers.json must be a list of 150-200 items (has {len(items) if isinstance(items, list) else '?'})")
    items = items if isinstance(items, list) else []
ids = set()
for index, item in enumerate(items):
    where = f"[{index}]"
    if not isinstance(item, dict) or set(item) != {"id", "visit", "text", "expect"}:
        errors.append(f"{where}: keys must be id, visit, text, expect")
        continue
    if not re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*_d9", item["id"]):
        errors.append(f"{where}: id must be snake_case ending in _d9")
    if item["id"] in ids:
        errors.append(f"{where}: duplicate id {item['id']}")
    ids.add(item["id"])
    if item["visit"] not in ("entrega", "visita"):
        errors.append(f"{where}: visit must be entrega or visita")
    if item["expect"] not in CLASSES:
        errors.append(f"{where}: expect must be one of {sorted(CLASSES)}")
    if not isinstance(item["text"], str) or not 1 <= len(item["text"].split()) <= 25:
        errors.append(f"{where}: text must be 1-25 words")
spread = collections.Counter(item.get("expect") for item in items if isinstance(item, dict))
print("classes:", dict(spread))
for error in errors:
    print("ERROR:", error)
print("OK" if not errors else f"FAILED: {len(errors)} error(s)")
sys.exit(1 if errors else 0)
