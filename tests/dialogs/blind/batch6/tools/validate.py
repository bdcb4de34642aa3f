#!/usr/bin/env python3
"""Validate blind dialog batch 6 (self-contained: reads only batch6/).

    python3 tools/validate.py

Checks
  * every *.json dialog file at the top of batch6/ is a list of dialogs with
    exactly the keys name / directory / turns / if_asked / expect
  * names are unique, snake_case and end in _b6; 1-5 non-empty turns
  * the directory file exists; directories are exactly what
    tools/gen_directories.py produces (reproducible from the seed)
  * valid dialogs: apartment exists, the resident lives there, spelled exactly
    as in the directory; visitor_name is said in some turn
  * must-not-complete dialogs: no apartment/resident in expect; the reason in
    tools/mnc_reasons.json really holds against the directory (apartment truly
    missing, resident truly not in that apartment, name truly absent, ...)
  * keypad: digits only; for valid dialogs equal to the number part of the
    expected apartment ("7-23" -> "23"); for must-not-complete dialogs with an
    apartment in the reason, equal to that apartment's number part
  * no filler resident (anyone not hand-picked in gen_directories.HAND) has a
    name token that is said in a dialog using that directory, so the only
    names a dialog can hit are the hand-picked ones
  * summary: counts per file and the must-not-complete share
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = os.path.dirname(HERE)
DIRS = os.path.join(BATCH, "directories")
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import gen_directories  # noqa: E402

errors = []


def err(msg):
    errors.append(msg)


def norm(s):
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if not unicodedata.combining(c)).lower()


def tokens(s):
    return re.findall(r"[a-z]+", norm(s))


def number_part(apt):
    return apt.split("-", 1)[1] if "-" in apt else apt


def name_matches(said, full):
    """every token of `said` is a token of `full` (accent- and case-insensitive)"""
    ft = set(tokens(full))
    return all(t in ft for t in tokens(said))


def load_directories():
    out = {}
    for path in sorted(glob.glob(os.path.join(DIRS, "*.json"))):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        fname = os.path.basename(path)
        apts = {}
        for unit in data:
            if set(unit) != {"apartment_number", "residents", "voip_number"}:
                err(f"{fname}: unit keys {sorted(unit)}")
            a = unit["apartment_number"]
            if not re.fullmatch(r"([A-Z]|\d{1,2})-\d{1,4}|\d{1,4}", a):
                err(f"{fname}: odd apartment string {a!r}")
            if a in apts:
                err(f"{fname}: duplicate apartment {a}")
            if not unit["residents"]:
                err(f"{fname}: {a} has no residents")
            if not unit["voip_number"].startswith("PJSIP/"):
                err(f"{fname}: {a} voip {unit['voip_number']!r}")
            apts[a] = unit["residents"]
        if not 20 <= len(apts) <= 300:
            err(f"{fname}: {len(apts)} units")
        out[fname] = apts
    return out


def check_reproducible():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, os.path.join(HERE, "gen_directories.py"), "--out", tmp],
                       check=True, stdout=subprocess.DEVNULL)
        for path in sorted(glob.glob(os.path.join(tmp, "*.json"))):
            mine = os.path.join(DIRS, os.path.basename(path))
            if not os.path.exists(mine):
                err(f"directory {os.path.basename(path)} not written")
                continue
            with open(path, "rb") as a, open(mine, "rb") as b:
                if a.read() != b.read():
                    err(f"directories/{os.path.basename(path)} differs from the generator's output")


def main():
    check_reproducible()
    dirs = load_directories()
    with open(os.path.join(HERE, "mnc_reasons.json"), encoding="utf-8") as f:
        reasons = {k: v for k, v in json.load(f).items() if not k.startswith("_")}

    # filler name tokens per directory (residents of units not in HAND)
    filler_tokens = {}
    for fname, apts in dirs.items():
        hand = gen_directories.HAND.get(fname, {})
        toks = set()
        for a, res in apts.items():
            if a not in hand:
                for r in res:
                    toks.update(tokens(r))
        filler_tokens[fname] = toks

    names = {}
    per_file = {}
    used_reasons = set()
    files = sorted(glob.glob(os.path.join(BATCH, "*.json")))
    if len(files) != 6:
        err(f"expected 6 dialog files, found {len(files)}")
    for path in files:
        fname = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            dialogs = json.load(f)
        if not isinstance(dialogs, list):
            err(f"{fname}: not a list")
            continue
        nv = nm = 0
        for d in dialogs:
            n = d.get("name", "?")
            where = f"{fname}:{n}"
            if set(d) != {"name", "directory", "turns", "if_asked", "expect"}:
                err(f"{where}: keys {sorted(d)}")
                continue
            if not re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*_b6", n):
                err(f"{where}: name not snake_case ending in _b6")
            if n in names:
                err(f"{where}: duplicate name (also in {names[n]})")
            names[n] = fname
            turns = d["turns"]
            if not (isinstance(turns, list) and 1 <= len(turns) <= 5
                    and all(isinstance(t, str) and t.strip() for t in turns)):
                err(f"{where}: turns must be 1-5 non-empty strings")
                continue
            spoken = " ".join(turns)
            ia = d["if_asked"]
            if set(ia) != {"confirm_yes", "confirm_no", "keypad"}:
                err(f"{where}: if_asked keys {sorted(ia)}")
            if not (ia.get("confirm_yes") and ia.get("confirm_no")):
                err(f"{where}: empty confirm_yes/confirm_no")
            keypad = ia.get("keypad", "")
            if not re.fullmatch(r"\d*", keypad):
                err(f"{where}: keypad not digits: {keypad!r}")
            dfile = d["directory"]
            if dfile not in dirs:
                err(f"{where}: directory {dfile} missing")
                continue
            apts = dirs[dfile]
            ex = d["expect"]
            if ex.get("intent_type") not in ("entrega", "visita"):
                err(f"{where}: intent_type {ex.get('intent_type')!r}")
            vn = ex.get("visitor_name", "MISSING")
            if vn == "MISSING":
                err(f"{where}: visitor_name missing")
            elif vn is not None:
                if not vn.strip() or norm(vn) not in norm(spoken):
                    err(f"{where}: visitor_name {vn!r} not said in the turns")
            # filler names must never be said
            hit = sorted(set(tokens(spoken)) & filler_tokens[dfile])
            if hit:
                err(f"{where}: says filler-resident name tokens {hit}")

            valid = ex.get("valid_for_action")
            if valid is True:
                nv += 1
                if set(ex) != {"intent_type", "visitor_name", "apartment_number",
                               "resident_name", "valid_for_action"}:
                    err(f"{where}: valid expect keys {sorted(ex)}")
                if vn is None:
                    err(f"{where}: valid dialog without visitor_name")
                a = ex.get("apartment_number")
                if a not in apts:
                    err(f"{where}: apartment {a!r} not in {dfile}")
                elif ex.get("resident_name") not in apts[a]:
                    err(f"{where}: {ex.get('resident_name')!r} does not live in {a} ({apts[a]})")
                if a and keypad != number_part(a):
                    err(f"{where}: keypad {keypad!r} != number part of {a}")
                if n in reasons:
                    err(f"{where}: valid dialog has a must-not-complete reason")
            elif valid is False:
                nm += 1
                if set(ex) != {"intent_type", "visitor_name", "valid_for_action"}:
                    err(f"{where}: must-not-complete expect keys {sorted(ex)} "
                        "(give intent_type and visitor_name only)")
                r = reasons.get(n)
                if r is None:
                    err(f"{where}: no reason in tools/mnc_reasons.json")
                    continue
                used_reasons.add(n)
                kind = r["kind"]
                ra = r.get("apartment")
                if ra is not None and keypad != number_part(ra):
                    err(f"{where}: keypad {keypad!r} != number part of {ra}")
                if ra is None and keypad:
                    err(f"{where}: keypad {keypad!r} but no apartment in the reason")
                for nm_abs in r.get("names_absent", []):
                    for a2, res in apts.items():
                        for full in res:
                            if name_matches(nm_abs, full):
                                err(f"{where}: {nm_abs!r} matches {full!r} in {a2}")
                    if norm(nm_abs) not in norm(spoken):
                        err(f"{where}: names_absent {nm_abs!r} not said in the turns")
                if kind == "no_such_apartment":
                    if ra in apts:
                        err(f"{where}: apartment {ra} exists in {dfile}")
                elif kind == "resident_not_in_apartment":
                    if ra not in apts:
                        err(f"{where}: apartment {ra} should exist")
                    else:
                        said = r["resident_said"]
                        first = tokens(said)[0]
                        for full in apts[ra]:
                            if first in tokens(full):
                                err(f"{where}: {first!r} does live in {ra}: {full}")
                    li = r.get("lives_in")
                    if li is not None and not any(name_matches(r["resident_said"], f)
                                                  for f in apts.get(li, [])):
                        err(f"{where}: {r['resident_said']!r} not found in {li}")
                elif kind == "no_such_resident":
                    if ra is not None and ra not in apts:
                        err(f"{where}: apartment {ra} should exist")
                    if not r.get("names_absent"):
                        err(f"{where}: no_such_resident needs names_absent")
                elif kind == "refuses_name":
                    if vn is not None:
                        err(f"{where}: refuses_name but visitor_name {vn!r}")
                elif kind == "no_resident_target":
                    pass
                else:
                    err(f"{where}: unknown kind {kind!r}")
                if kind != "refuses_name" and vn is None:
                    err(f"{where}: visitor_name null but the visitor gives a name")
            else:
                err(f"{where}: valid_for_action must be true/false")
        per_file[fname] = (nv, nm)

    for n in set(reasons) - used_reasons:
        err(f"mnc_reasons.json: {n} is not a must-not-complete dialog")

    tv = sum(v for v, _ in per_file.values())
    tm = sum(m for _, m in per_file.values())
    print(f"{'file':32} valid  must-not-complete")
    for f, (v, m) in per_file.items():
        print(f"{f:32} {v:5}  {m:5}")
    print(f"{'total':32} {tv:5}  {tm:5}   ({tv + tm} dialogs, {100 * tm / max(1, tv + tm):.1f}% must-not-complete)")
    for f, apts in dirs.items():
        print(f"directory {f}: {len(apts)} units, {sum(len(r) for r in apts.values())} residents")
    if errors:
        print(f"\n{len(errors)} ERROR(S):")
        for e in errors:
            print("  " + e)
        sys.exit(1)
    print("\nOK")


if __name__ == "__main__":
    main()
