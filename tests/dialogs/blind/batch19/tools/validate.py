#!/usr/bin/env python3
"""Validate blind batch 11 (stdlib only).

Usage: python3 tools/validate.py   (from anywhere; paths are relative to this file)

Checks:
  * every theme file *.json and every directories/*.json is well-formed JSON of the expected shape;
  * dialog names are unique across the batch, snake_case and end in "_b19";
  * each dialog references an existing directory file; 2-4 turns; digits allowed (a recognizer writes numbers as digits);
  * turns are at most ~25 words (error above 30, warning above 25);
  * expect.intent_type (when given) is "entrega" or "visita"; valid_for_action is a boolean;
  * for every valid dialog: intent, visitor, apartment and resident are all given, the apartment exists
    in its directory and the resident lives there spelled exactly as in the directory, and the keypad
    digits equal the apartment number without its block/tower prefix;
  * for invalid dialogs the keypad is digits or empty;
  * the visitor's name (when given) appears in the turns, case- and accent-insensitively.
Exit status 0 when there are no errors.
"""
import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIRS = ROOT / "directories"
NAME_RE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*_b19$")
errors, warnings = [], []


def fold(s):
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9 ]", " ", s.lower())).strip()


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except Exception as e:  # noqa: BLE001
        errors.append(f"{path.name}: not valid JSON ({e})")
        return None


directories = {}
for p in sorted(DIRS.glob("*.json")):
    data = load(p)
    if data is None:
        continue
    if not isinstance(data, list) or not data:
        errors.append(f"directories/{p.name}: must be a non-empty list")
        continue
    units = {}
    for u in data:
        if not isinstance(u, dict) or set(u) != {"apartment_number", "residents", "voip_number"}:
            errors.append(f"directories/{p.name}: bad unit {u!r}")
            continue
        apt, res = u["apartment_number"], u["residents"]
        if not isinstance(apt, str) or not re.fullmatch(r"([A-Z]|\d+)-\d+|\d+", apt):
            errors.append(f"directories/{p.name}: bad apartment_number {apt!r}")
        if apt in units:
            errors.append(f"directories/{p.name}: duplicate apartment {apt}")
        if not isinstance(res, list) or not 1 <= len(res) <= 3 or not all(isinstance(r, str) and r.strip() for r in res):
            errors.append(f"directories/{p.name}: {apt} must have 1-3 resident names")
        if not isinstance(u["voip_number"], str) or not u["voip_number"].startswith("PJSIP/"):
            errors.append(f"directories/{p.name}: {apt} voip_number must start with PJSIP/")
        units[apt] = res
    directories[p.name] = units
if len(directories) != 4:
    warnings.append(f"expected 4 directories, found {len(directories)}")

names, total, invalid = set(), 0, 0
theme_files = sorted(ROOT.glob("*.json"))
if not 3 <= len(theme_files) <= 5:
    errors.append(f"expected 3-5 theme files, found {len(theme_files)}")
for p in theme_files:
    data = load(p)
    if data is None:
        continue
    if not isinstance(data, list):
        errors.append(f"{p.name}: must be a list")
        continue
    print(f"{p.name}: {len(data)} dialogs")
    for i, dlg in enumerate(data):
        where = f"{p.name}[{i}]"
        if not isinstance(dlg, dict) or set(dlg) != {"name", "directory", "turns", "if_asked", "expect"}:
            errors.append(f"{where}: keys must be name, directory, turns, if_asked, expect")
            continue
        total += 1
        name = dlg["name"]
        where = f"{p.name}:{name}"
        if not isinstance(name, str) or not NAME_RE.match(name):
            errors.append(f"{where}: name must be snake_case ending in _b19")
        if name in names:
            errors.append(f"{where}: duplicate name")
        names.add(name)
        units = directories.get(dlg["directory"])
        if units is None:
            errors.append(f"{where}: unknown directory {dlg['directory']!r}")
        turns = dlg["turns"]
        if not isinstance(turns, list) or not 2 <= len(turns) <= 4 or not all(isinstance(t, str) and t.strip() for t in turns):
            errors.append(f"{where}: turns must be 2-4 non-empty strings")
            turns = [t for t in turns if isinstance(t, str)] if isinstance(turns, list) else []
        for t in turns:
            n = len(t.split())
            if n > 30:
                errors.append(f"{where}: turn too long ({n} words): {t!r}")
            elif n > 25:
                warnings.append(f"{where}: turn of {n} words")
        ia = dlg["if_asked"]
        if not isinstance(ia, dict) or set(ia) != {"confirm_yes", "confirm_no", "keypad"}:
            errors.append(f"{where}: if_asked must have confirm_yes, confirm_no, keypad")
            ia = {"confirm_yes": "", "confirm_no": "", "keypad": ""}
        for k in ("confirm_yes", "confirm_no"):
            if not isinstance(ia[k], str) or not ia[k].strip():
                errors.append(f"{where}: if_asked.{k} empty")
        exp = dlg["expect"]
        allowed = {"intent_type", "visitor_name", "apartment_number", "resident_name", "valid_for_action"}
        if not isinstance(exp, dict) or not set(exp) <= allowed or not isinstance(exp.get("valid_for_action"), bool):
            errors.append(f"{where}: bad expect {exp!r}")
            continue
        if "intent_type" in exp and exp["intent_type"] not in ("entrega", "visita"):
            errors.append(f"{where}: intent_type must be entrega or visita")
        vname = exp.get("visitor_name")
        if vname is not None:
            if fold(vname) not in fold(" ".join(turns)):
                errors.append(f"{where}: visitor name {vname!r} not found in turns")
        keypad = ia["keypad"]
        if not isinstance(keypad, str) or not re.fullmatch(r"\d*", keypad):
            errors.append(f"{where}: keypad must be a string of digits")
        if exp["valid_for_action"]:
            missing = allowed - set(exp)
            if missing:
                errors.append(f"{where}: valid dialog missing {sorted(missing)}")
                continue
            apt, res = exp["apartment_number"], exp["resident_name"]
            if units is not None:
                if apt not in units:
                    errors.append(f"{where}: apartment {apt!r} not in {dlg['directory']}")
                elif res not in units[apt]:
                    errors.append(f"{where}: {res!r} does not live in {apt} ({units[apt]})")
            if keypad != apt.split("-")[-1]:
                errors.append(f"{where}: keypad {keypad!r} does not match apartment {apt!r}")
        else:
            invalid += 1
            if units is not None and exp.get("apartment_number") and exp["apartment_number"] not in units:
                errors.append(f"{where}: invalid dialog gives apartment_number that does not exist")

print(f"total: {total} dialogs, {invalid} not valid for action ({100.0 * invalid / max(total, 1):.1f} %), "
      f"{len(directories)} directories")
for w in warnings:
    print("WARNING:", w)
for e in errors:
    print("ERROR:", e)
print("OK" if not errors else f"FAILED: {len(errors)} error(s)")
sys.exit(1 if errors else 0)
