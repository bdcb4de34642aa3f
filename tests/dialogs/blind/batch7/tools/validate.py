#!/usr/bin/env python3
"""Consistency checks for blind dialog batch 7 (no project code is used).

    python3 tests/dialogs/blind/batch7/tools/validate.py

Checks
  * every batch7/*.json is a list of dialogs in the agreed shape;
  * names are unique, snake_case and end in _b7;
  * each dialog's directory exists in batch7/directories/ and is well formed;
  * valid dialogs: intent is entrega/visita, the visitor's name is written in
    the turns, the apartment exists, the resident lives there exactly as
    written, and the keypad answer is the apartment's digits without block;
  * must-not-complete dialogs: apartment/resident omitted, and the trap in
    tools/must_not_complete.json really holds against the directory
    (no such apartment, resident not in that apartment, nobody with that name,
    digits that fit several apartments of different residents, or a refused
    name), with a keypad answer consistent with the trap;
  * every trap belongs to a must-not-complete dialog and vice versa.
Warnings (not failures) list dialogs whose visitor shares a first name with a
resident of the same directory, so deliberate clashes can be eyeballed.
Exit status 1 on any failure.
"""
import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIRS = ROOT / "directories"
TRAPS = json.loads((ROOT / "tools" / "must_not_complete.json").read_text(encoding="utf-8"))

errors, warnings = [], []


def fold(s):
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if not unicodedata.combining(c)).lower()


def err(name, msg):
    errors.append(f"{name}: {msg}")


def load_directory(fname, cache={}):
    if fname in cache:
        return cache[fname]
    p = DIRS / fname
    if not p.is_file():
        cache[fname] = None
        return None
    data = json.loads(p.read_text(encoding="utf-8"))
    units = {}
    for u in data:
        apt = u.get("apartment_number")
        if not isinstance(apt, str) or not re.fullmatch(r"(?:[A-Z]-|\d+-)?\d+", apt):
            errors.append(f"{fname}: bad apartment_number {apt!r}")
            continue
        if apt in units:
            errors.append(f"{fname}: duplicate apartment {apt}")
        if not isinstance(u.get("residents"), list) or not u["residents"]:
            errors.append(f"{fname}: {apt} has no residents list")
        if not str(u.get("voip_number", "")).startswith("PJSIP/"):
            errors.append(f"{fname}: {apt} bad voip_number")
        units[apt] = u.get("residents", [])
    if not 40 <= len(units) <= 250:
        errors.append(f"{fname}: {len(units)} units, expected 40-250")
    cache[fname] = units
    return units


def digits(apt):
    return apt.split("-")[-1]


def holders(units, token):
    """Apartments with a resident whose name contains every word of token."""
    words = fold(token).split()
    out = []
    for apt, res in units.items():
        for r in res:
            rw = fold(r).split()
            if all(w in rw for w in words):
                out.append(apt)
                break
    return out


def check_trap(name, d, units, trap):
    kind = trap.get("kind")
    keypad = d["if_asked"].get("keypad")
    if kind == "no_such_apartment":
        apt = trap["apartment"]
        if apt in units:
            err(name, f"trap apartment {apt} exists")
        if keypad is not None and keypad != digits(apt):
            err(name, f"keypad {keypad} != {digits(apt)}")
        tok = trap.get("also_no_resident")
        if tok and holders(units, tok):
            err(name, f"{tok} does live in {holders(units, tok)}")
    elif kind == "resident_not_in_apartment":
        apt, tok = trap["apartment"], trap["token"]
        if apt not in units:
            err(name, f"trap apartment {apt} does not exist (use no_such_apartment)")
        elif apt in holders(units, tok):
            err(name, f"{tok} does live in {apt}")
        if trap.get("nobody_has_it") and holders(units, tok):
            err(name, f"{tok} lives in {holders(units, tok)}")
        if keypad is not None and keypad != digits(apt):
            err(name, f"keypad {keypad} != {digits(apt)}")
    elif kind == "ambiguous_number":
        cands = trap["candidates"]
        if len(cands) < 2:
            err(name, "ambiguous trap needs 2+ candidates")
        for c in cands:
            if c not in units:
                err(name, f"candidate {c} does not exist")
        sets = [frozenset(units.get(c, [])) for c in cands]
        if len(set(sets)) != len(sets):
            err(name, "two candidates share the same residents")
        if keypad is not None and any(digits(c) != keypad for c in cands):
            err(name, "keypad would disambiguate the candidates")
        tok = trap.get("shared_token")
        if tok:
            h = set(holders(units, tok))
            if not set(cands) <= h:
                err(name, f"{tok} not in every candidate")
    elif kind == "ambiguous_resident":
        h = holders(units, trap["token"])
        if sorted(h) != sorted(trap["candidates"]):
            err(name, f"{trap['token']} lives in {h}, trap says {trap['candidates']}")
        if len(h) < 2:
            err(name, "resident not ambiguous")
        if keypad is not None:
            err(name, "a keypad answer would disambiguate")
    elif kind == "refused_name":
        if d["expect"].get("visitor_name") is not None:
            err(name, "refused_name but visitor_name given")
        apt = trap["apartment"]
        if apt not in units or apt not in holders(units, trap["token"]):
            err(name, "refused_name trap should otherwise be completable")
        if keypad is not None and keypad != digits(apt):
            err(name, f"keypad {keypad} != {digits(apt)}")
    else:
        err(name, f"unknown trap kind {kind!r}")


def main():
    seen = set()
    nmc_names = set()
    totals = {}
    for path in sorted(ROOT.glob("*.json")):
        dialogs = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(dialogs, list):
            errors.append(f"{path.name}: not a list")
            continue
        valid = nmc = 0
        for d in dialogs:
            name = d.get("name", "?")
            if set(d) != {"name", "directory", "turns", "if_asked", "expect"}:
                err(name, f"unexpected keys {sorted(d)}")
            if not re.fullmatch(r"[a-z0-9]+(?:_[a-z0-9]+)*_b7", name):
                err(name, "name must be snake_case ending in _b7")
            if name in seen:
                err(name, "duplicate name")
            seen.add(name)
            turns = d.get("turns", [])
            if not (1 <= len(turns) <= 5) or not all(isinstance(t, str) and t.strip() for t in turns):
                err(name, "turns must be 1-5 non-empty strings")
            text = " ".join(turns)
            units = load_directory(d.get("directory", ""))
            if units is None:
                err(name, f"directory {d.get('directory')} missing")
                continue
            ia, ex = d.get("if_asked", {}), d.get("expect", {})
            if not ia.get("confirm_yes") or not ia.get("confirm_no"):
                err(name, "if_asked needs confirm_yes and confirm_no")
            if "keypad" in ia and not re.fullmatch(r"\d+", ia["keypad"]):
                err(name, "keypad must be digits only")
            if ex.get("intent_type") not in ("entrega", "visita"):
                err(name, f"bad intent_type {ex.get('intent_type')!r}")
            vn = ex.get("visitor_name", "MISSING")
            if vn == "MISSING":
                err(name, "visitor_name missing")
            elif vn is not None and vn not in text:
                err(name, f"visitor_name {vn!r} not written in the turns")
            if vn:
                first = fold(vn.split()[0])
                clash = [a for a, rs in units.items() for r in rs if fold(r).split()[0] == first]
                if clash:
                    warnings.append(f"{name}: visitor {vn!r} shares a first name with residents of {clash}")
            if ex.get("valid_for_action") is True:
                valid += 1
                apt, res = ex.get("apartment_number"), ex.get("resident_name")
                if name in TRAPS:
                    err(name, "valid dialog has a trap entry")
                if not vn:
                    err(name, "valid dialog needs a visitor_name")
                if apt not in units:
                    err(name, f"apartment {apt!r} not in {d['directory']}")
                elif res not in units[apt]:
                    err(name, f"{res!r} does not live in {apt} ({units[apt]})")
                if ia.get("keypad") != (digits(apt) if apt else None):
                    err(name, f"keypad {ia.get('keypad')!r} != apartment digits")
            elif ex.get("valid_for_action") is False:
                nmc += 1
                nmc_names.add(name)
                if "apartment_number" in ex or "resident_name" in ex:
                    err(name, "must-not-complete: omit apartment_number/resident_name")
                if name not in TRAPS:
                    err(name, "must-not-complete without a trap entry")
                else:
                    check_trap(name, d, units, TRAPS[name])
            else:
                err(name, "valid_for_action must be true or false")
        totals[path.name] = (valid, nmc)
    for t in TRAPS:
        if t not in nmc_names:
            errors.append(f"trap {t} has no must-not-complete dialog")

    tv = sum(v for v, _ in totals.values())
    tn = sum(n for _, n in totals.values())
    for f, (v, n) in totals.items():
        print(f"{f:28s} {v + n:3d} dialogs  {v:3d} valid  {n:2d} must-not-complete")
    print(f"{'total':28s} {tv + tn:3d} dialogs  {tv:3d} valid  {tn:2d} must-not-complete"
          f"  ({100 * tn / max(1, tv + tn):.1f}% must-not-complete)")
    for w in warnings:
        print("warning:", w)
    if errors:
        for e in errors:
            print("ERROR:", e)
        print(f"{len(errors)} error(s)")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
