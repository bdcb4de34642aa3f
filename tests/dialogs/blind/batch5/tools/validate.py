#!/usr/bin/env python3
"""Validate batch5 (standard library only). Exit status 1 on any error.

Run from anywhere:  python3 tests/dialogs/blind/batch5/tools/validate.py
"""
import difflib
import glob
import importlib.util
import json
import os
import re
import sys
import tempfile
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = os.path.dirname(HERE)
DIRS = os.path.join(BATCH, "directories")
errors, notes = [], []


def err(msg):
    errors.append(msg)


def norm(s):
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if not unicodedata.combining(c)).lower()


def words(s):
    return re.findall(r"[a-z0-9]+", norm(s))


PARTICLES = {"de", "da", "do", "dos", "das", "e"}

# --- load generator (for hand-picked vs fill) and check determinism
spec = importlib.util.spec_from_file_location("gen", os.path.join(HERE, "gen_directories.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)
with tempfile.TemporaryDirectory() as tmp:
    gen.OUT = tmp
    gen.main()
    for f in os.listdir(tmp):
        if open(os.path.join(tmp, f), "rb").read() != open(os.path.join(DIRS, f), "rb").read():
            err(f"directory {f} differs from a fresh generation")

# --- directories
directories = {}
for path in sorted(glob.glob(os.path.join(DIRS, "*.json"))):
    fname = os.path.basename(path)
    units = json.load(open(path, encoding="utf-8"))
    if not 8 <= len(units) <= 300:
        err(f"{fname}: {len(units)} units")
    apts = {}
    for u in units:
        if set(u) != {"apartment_number", "residents", "voip_number"}:
            err(f"{fname}: bad keys {u}")
        a = u["apartment_number"]
        if not isinstance(a, str) or a in apts:
            err(f"{fname}: bad/duplicate apartment {a!r}")
        if not re.fullmatch(r"(\d+|[A-Z]-\d+|\d+-\d+)", a):
            err(f"{fname}: bad apartment format {a!r}")
        if not u["residents"] or not all(isinstance(r, str) and r.strip() for r in u["residents"]):
            err(f"{fname}: {a} residents {u['residents']!r}")
        if not u["voip_number"].startswith("PJSIP/"):
            err(f"{fname}: {a} voip")
        apts[a] = u["residents"]
    directories[fname] = apts
    if set(directories) - set(gen.HAND) or fname not in gen.HAND:
        err(f"{fname}: not produced by generator")

fill = {}  # directory -> set of fill resident names
for fname, apts in directories.items():
    hand = gen.HAND[fname]
    fill[fname] = {r for a, rs in apts.items() if a not in hand for r in rs}
    for a, rs in hand.items():
        if apts.get(a) != rs:
            err(f"{fname}: hand-picked unit {a} differs")

# --- dialogs
dialog_files = sorted(glob.glob(os.path.join(BATCH, "*.json")))
all_dialogs, names = [], set()
per_file = {}
NAME_RE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*_b5$")
for path in dialog_files:
    fname = os.path.basename(path)
    data = json.load(open(path, encoding="utf-8"))
    if not isinstance(data, list) or not data:
        err(f"{fname}: not a non-empty list")
        continue
    v = n = 0
    for d in data:
        all_dialogs.append((fname, d))
        nm = d.get("name", "?")
        if set(d) - {"name", "directory", "turns", "if_asked", "expect"} or \
                not {"name", "directory", "turns", "expect"} <= set(d):
            err(f"{nm}: bad keys {sorted(d)}")
        if not NAME_RE.match(nm):
            err(f"{nm}: name not snake_case ending in _b5")
        if nm in names:
            err(f"{nm}: duplicate name")
        names.add(nm)
        if d.get("directory") not in directories:
            err(f"{nm}: unknown directory {d.get('directory')}")
            continue
        apts = directories[d["directory"]]
        turns = d.get("turns")
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t.strip() for t in turns):
            err(f"{nm}: bad turns")
            continue
        text = " ".join(turns)
        ia = d.get("if_asked", {})
        if set(ia) - {"confirm_yes", "confirm_no", "keypad"}:
            err(f"{nm}: bad if_asked keys")
        e = d["expect"]
        if set(e) - {"intent_type", "visitor_name", "apartment_number", "resident_name", "valid_for_action"}:
            err(f"{nm}: bad expect keys")
        if "intent_type" in e and e["intent_type"] not in ("entrega", "visita"):
            err(f"{nm}: bad intent")
        if "keypad" in ia:
            if not re.fullmatch(r"\d+", ia["keypad"]):
                err(f"{nm}: keypad not digits")
            if "apartment_number" in e:
                if not re.fullmatch(r"[\d-]+", e["apartment_number"]) or \
                        ia["keypad"] != re.sub(r"\D", "", e["apartment_number"]):
                    err(f"{nm}: keypad {ia['keypad']} != apartment {e['apartment_number']}")
        if "visitor_name" in e and norm(e["visitor_name"]) not in norm(text):
            err(f"{nm}: visitor name {e['visitor_name']!r} never said")
        if "apartment_number" in e and e["apartment_number"] not in apts:
            err(f"{nm}: apartment {e['apartment_number']} not in {d['directory']}")
        if "resident_name" in e:
            homes = [a for a, rs in apts.items() if e["resident_name"] in rs]
            if len(homes) != 1:
                err(f"{nm}: resident {e['resident_name']!r} found in {homes}")
            if "apartment_number" in e and e["apartment_number"] not in homes:
                err(f"{nm}: resident does not live in {e['apartment_number']}")
        if e.get("valid_for_action") is True:
            v += 1
            if set(e) != {"intent_type", "visitor_name", "apartment_number", "resident_name", "valid_for_action"}:
                err(f"{nm}: valid dialog lacks expect keys")
            if not {"confirm_yes", "confirm_no"} <= set(ia):
                err(f"{nm}: valid dialog lacks confirm answers")
            if "-" not in e.get("apartment_number", "-") and "keypad" not in ia:
                err(f"{nm}: numeric unit without keypad")
            # review aid: which residents of the directory are named in the turns
            tw = set(words(text))
            others = []
            for a, rs in apts.items():
                for r in rs:
                    toks = [t for t in words(r) if t not in PARTICLES]
                    if r != e.get("resident_name") and toks[0] in tw:
                        others.append(f"{r} ({a})")
            rtoks = [t for t in words(e.get("resident_name", "")) if t not in PARTICLES]
            said = [t for t in rtoks if t in tw]
            notes.append(f"{nm}: resident tokens said={said or 'NONE (apartment only / nickname)'}"
                         + (f"; other residents' first names said: {others}" if others else ""))
        elif e.get("valid_for_action") is False:
            n += 1
        else:
            err(f"{nm}: valid_for_action missing")
    per_file[fname] = (v, n)

# --- facts the must-not-complete dialogs rely on
JAC, TT, PA, MIR, CASAS = ("edificio_jacaranda.json", "residencial_tres_torres.json",
                           "condominio_parque_das_aguas.json", "edificio_mirante_do_vale.json",
                           "casas_vila_dos_ipes.json")


def first_name_units(dirname, first):
    return sorted({a for a, rs in directories[dirname].items() for r in rs
                   if words(r)[0] == norm(first)})


def home(dirname, resident):
    return [a for a, rs in directories[dirname].items() if resident in rs]


FACTS = {
    "apto_112_inexistente_jacaranda_b5": "112" not in directories[JAC],
    "apto_2503_inexistente_mirante_b5": "2503" not in directories[MIR] and not first_name_units(MIR, "Rebeca"),
    "torre_quatro_inexistente_b5": not any(a.startswith("4-") for a in directories[TT]) and not first_name_units(TT, "Simone"),
    "bloco_f_inexistente_b5": not any(a.startswith("F-") for a in directories[PA]) and not first_name_units(PA, "Osmar"),
    "casa_22_inexistente_b5": "22" not in directories[CASAS] and not first_name_units(CASAS, "Julia"),
    "apto_1301_inexistente_jacaranda_b5": "1301" not in directories[JAC] and not first_name_units(JAC, "Noemia"),
    "par_errado_renata_504_b5": home(JAC, "Renata Campos") == ["502"] and "504" in directories[JAC],
    "par_errado_gustavo_torre2_b5": home(TT, "Gustavo Lins") == ["1-1203"] and "2-1203" in directories[TT],
    "par_errado_yasmin_1101_b5": home(MIR, "Yasmin Khoury") == ["1102"] and "1101" in directories[MIR],
    "ambiguo_juliana_sem_torre_b5": len(first_name_units(TT, "Juliana")) >= 2,
    "ambiguo_gabriel_bloco_e_b5": len([a for a in first_name_units(PA, "Gabriel") if a.startswith("E-")]) >= 2,
    "ambiguo_thais_tais_b5": len(first_name_units(JAC, "Thais") + first_name_units(JAC, "Tais")) >= 2,
    "ambiguo_seu_luis_casas_b5": len(first_name_units(CASAS, "Luis") + first_name_units(CASAS, "Luiz")) >= 2,
    "recusa_nome_entrega_camila_b5": home(JAC, "Camila Reis") == ["1101"],
    "recusa_nome_surpresa_ronaldo_b5": home(MIR, "Ronaldo Freire") == ["2001"],
    "injecao_no_nome_ifood_b5": "1-302" in directories[TT],
    "condominio_errado_bela_vista_b5": not first_name_units(MIR, "Rosa") and not any("-" in a for a in directories[MIR]),
}
for nm, ok in FACTS.items():
    if nm not in names:
        err(f"fact for unknown dialog {nm}")
    elif not ok:
        err(f"{nm}: the fact it relies on does not hold")

# deliberate traps used by valid dialogs
TRAPS = {
    "Luiz/Luís in casas": first_name_units(CASAS, "Luiz") == ["4"] and first_name_units(CASAS, "Luis") == ["5"],
    "Thaís/Taís in Jacarandá": first_name_units(JAC, "Thais") == ["103"] and first_name_units(JAC, "Tais") == ["104"],
    "Souza/Sousa in Jacarandá": home(JAC, "Gilberto Souza") == ["201"] and home(JAC, "Rosana Sousa") == ["202"],
    "Campos 502/504": home(JAC, "Renata Campos") == ["502"] and home(JAC, "Helena Campos") == ["504"],
    "Rangel A-42/B-12": home(PA, "Luiz Otávio Rangel") == ["A-42"] and home(PA, "Luis Gustavo Rangel") == ["B-12"],
    "Lúcia twice in Jacarandá": home(JAC, "Vera Lúcia Bragança") == ["1002"] and home(JAC, "Lúcia Helena Pires") == ["901"],
    "Vinícius A-23/D-61": home(PA, "Marcos Vinícius Peixoto") == ["A-23"] and home(PA, "Vinícius Fagundes") == ["D-61"],
}
for k, ok in TRAPS.items():
    if not ok:
        err(f"trap broken: {k}")

# --- fill names must not appear (or nearly appear) in any dialog text
dialog_words = set()
name_like = set()
for _, d in all_dialogs:
    blob = " ".join(d.get("turns", [])) + " " + " ".join(str(x) for x in d.get("if_asked", {}).values()) \
        + " " + " ".join(str(x) for x in d.get("expect", {}).values())
    dialog_words.update(w for w in words(blob) if len(w) >= 3)
    name_like.update(norm(w) for w in re.findall(r"\b[A-ZÀ-Ý][\wÀ-ÿ]+", blob))
    for k in ("visitor_name", "resident_name"):
        name_like.update(words(d.get("expect", {}).get(k, "")))
hand_tokens = {t for f in gen.HAND.values() for rs in f.values() for r in rs for t in words(r)}
for fname, fl in fill.items():
    for r in fl:
        for t in words(r):
            if t in dialog_words:
                err(f"fill name token {t!r} ({r}, {fname}) appears in a dialog")
            if t in hand_tokens:
                err(f"fill name token {t!r} ({r}, {fname}) equals a hand-picked name token")
            close = difflib.get_close_matches(t, name_like | hand_tokens, n=3, cutoff=0.8)
            if close:
                err(f"fill name token {t!r} ({r}) is close to name-like words {close}")

total_v = sum(v for v, _ in per_file.values())
total_n = sum(n for _, n in per_file.values())
share = total_n / (total_v + total_n)
if not 0.12 <= share <= 0.2:
    err(f"must-not-complete share {share:.1%}")
if total_v + total_n < 130:
    err("fewer than 130 dialogs")

if "-v" in sys.argv:
    print("\n".join(notes))
for f, (v, n) in per_file.items():
    print(f"{f:28s} valid {v:3d}  must-not-complete {n:3d}")
print(f"{'TOTAL':28s} valid {total_v:3d}  must-not-complete {total_n:3d}  ({share:.1%})")
for fname, apts in sorted(directories.items()):
    print(f"{fname:34s} units {len(apts):3d} residents {sum(map(len, apts.values())):3d}")
if errors:
    print("\nERRORS:")
    print("\n".join(errors))
    sys.exit(1)
print("OK")
