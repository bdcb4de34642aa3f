"""How well spoken apartment numbers survive the phone line: the number matrix, read back.

bench/data/number_matrix.tsv (made by scripts/number_matrix.py) holds ≥ 300 apartment numbers,
each said three ways (`words` "trezentos e dezesseis", `digits` "três um seis" / "meia", `carrier`
"é para o apartamento trezentos e dezesseis"), rendered by RHVoice Letícia on the phone band
(a third with pink noise), and what Whisper base wrote: greedy, beam-5 best and its N-best.
This reads every transcript with the concierge's own reader and reports, per form, how often
the right apartment comes out:

- `greedy digits`: the digits of the greedy transcript are the number (no reader at all);
- `reader`: the number reader's best reading of the beam's best transcript, no directory;
- `+ directory`: the reading the directory supports (every matrix number is an apartment);
- `+ N-best`: the same, with the beam's other readings as evidence.

    .venv/bin/python bench/apartment_numbers.py [--tsv bench/data/number_matrix.tsv]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from concierge.brain.directory import Apartment, Directory  # noqa: E402
from concierge.brain.evidence import choose_apartment  # noqa: E402
from concierge.brain.understand import apartment_readings  # noqa: E402

COLUMNS = ("greedy digits", "reader", "+ directory", "+ N-best")


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def directory_of(rows: list[dict]) -> Directory:
    numbers = sorted({row["number"] for row in rows})
    return Directory([Apartment(apartment_number=n, residents=[f"Morador {i}"]) for i, n in enumerate(numbers)])


def judge(row: dict, directory: Directory) -> dict[str, bool]:
    number = row["number"]
    best = row["transcript"]
    others = [alt for alt in row.get("alternatives", "").split(" || ") if alt.strip()]
    heard = apartment_readings(best)
    alternatives = [h for alt in others for h in apartment_readings(alt)]
    plain = choose_apartment(heard, directory, set())
    with_nbest = choose_apartment(heard, directory, set(), alternatives)
    return {
        "greedy digits": re.sub(r"\D", "", row.get("greedy") or best) == number,
        "reader": bool(heard) and heard[0].number == number,
        "+ directory": plain is not None and plain.value == number,
        "+ N-best": with_nbest is not None and with_nbest.value == number,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tsv", type=Path, default=ROOT / "bench" / "data" / "number_matrix.tsv")
    args = parser.parse_args()
    rows = read_rows(args.tsv)
    directory = directory_of(rows)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        for key in (row["form"], f"noise={row['noise']}", "all"):
            totals[key]["n"] += 1
            for column, right in judge(row, directory).items():
                totals[key][column] += right
    print(f"{len(rows)} renderings of {len(directory.apartments)} apartment numbers ({args.tsv.name})\n")
    print("| form | n | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for key in sorted(totals, key=lambda k: (k == "all", k.startswith("noise"), k)):
        n = totals[key]["n"]
        cells = " | ".join(f"{100 * totals[key][c] / n:.1f} %" for c in COLUMNS)
        print(f"| {key} | {n} | {cells} |")


if __name__ == "__main__":
    main()
