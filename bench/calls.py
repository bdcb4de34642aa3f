"""Judge understanding on rendered calls: the dialogs of scripts/render_dialogs.py, played through
the whole voice pipeline by the same Simulator as `apoena simulate` (reactive caller, truthful
answers to read-backs and keypad requests), per split (tuned / dev / blind).

    .venv/bin/python scripts/render_dialogs.py                 # once: writes .apoena/eval/<split>/*.slin
    .venv/bin/python bench/calls.py [--split blind] [--limit N] [--jobs 1] [--speed 1]

Prints per split: calls right (every expected key matches at the end; names compared as
`apoena simulate` does), accuracy per slot, calls that ended valid_for_action with a wrong
apartment or resident (must be 0) or valid when they should not be, response latency p50/p95
and STT p50; then a Markdown table. Writes everything, with each call's transcripts and
replies, to .apoena/eval/report.json.

Latency figures are only meaningful one call at a time (`--jobs 1`, the default) and in real
time (`--speed 1`): faster playback shortens the end-of-turn silence in wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from concierge.apps.common import configure_logging, tune_for_real_time  # noqa: E402
from concierge.apps.visitor import same_slot  # noqa: E402
from concierge.apps.simulate import (  # noqa: E402
    CallReport,
    Recording,
    Simulator,
    group_by_directory,
    load_recording,
    simulation_services,
)

SPLITS = ("tuned", "dev", "blind")
KEYS = ("intent_type", "visitor_name", "apartment_number", "resident_name", "valid_for_action")


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def final_slots(report: CallReport) -> dict:
    final = report.final or {"dados": dict.fromkeys(KEYS[:4]), "valid_for_action": False}
    return {**final["dados"], "valid_for_action": final["valid_for_action"]}


def danger(report: CallReport) -> list[str]:
    """Why this call is unsafe: valid for action with the wrong home, or valid when it must not be."""
    expected = report.recording.expected or {}
    got = final_slots(report)
    if not got["valid_for_action"]:
        return []
    why = [
        f"{key} {got.get(key)!r}, expected {expected[key]!r}"
        for key in ("apartment_number", "resident_name")
        if key in expected and not same_slot(key, expected[key], got.get(key))
    ]
    if expected.get("valid_for_action") is False:
        why.append("valid_for_action True, expected False")
    return why


def wrong_target(report: CallReport) -> bool:
    return any(not reason.startswith("valid_for_action") for reason in danger(report))


def batch_of(report: CallReport) -> str:
    parts = Path(str(report.recording.info.get("source", ""))).parts
    return next((part for part in parts if part.startswith("batch")), "?")


def split_figures(reports: list[CallReport]) -> dict:
    turns = [t for r in reports for t in r.turns]
    latencies = [t.response_ms for t in turns if t.response_ms is not None]
    stt = [t.stt_ms for t in turns if t.source == "speech"]
    slots = {}
    for key in KEYS:
        judged = [r for r in reports if key in (r.recording.expected or {})]
        right = sum(1 for r in judged if same_slot(key, r.recording.expected[key], final_slots(r).get(key)))
        slots[key] = {"right": right, "judged": len(judged)}
    answers: dict[str, int] = {}
    for r in reports:
        for a in r.answers:
            answers[a["kind"]] = answers.get(a["kind"], 0) + 1
    outcomes: dict[str, int] = {}
    for r in reports:
        outcomes[r.outcome or "?"] = outcomes.get(r.outcome or "?", 0) + 1
    return {
        "calls": len(reports),
        "right": sum(1 for r in reports if r.passed),
        "slots": slots,
        "valid_wrong_target": sum(1 for r in reports if wrong_target(r)),
        "valid_not_expected": sum(1 for r in reports if any(d.startswith("valid_for_action") for d in danger(r))),
        "turns": len(turns),
        "response_ms_p50": _round(percentile(latencies, 50)),
        "response_ms_p95": _round(percentile(latencies, 95)),
        "stt_ms_p50": _round(percentile(stt, 50)),
        "answers": answers,
        "calls_with_unheard_turns": sum(1 for r in reports if r.unheard),
        "outcomes": outcomes,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def pct(right: int, judged: int) -> str:
    return f"{right}/{judged} ({100 * right / judged:.0f} %)" if judged else "—"


def markdown(figures: dict[str, dict]) -> str:
    splits = [s for s in SPLITS if s in figures]
    rows = [
        "| | " + " | ".join(splits) + " |",
        "|---|" + "---|" * len(splits),
        "| calls right (all expected keys) | " + " | ".join(pct(figures[s]["right"], figures[s]["calls"]) for s in splits) + " |",
    ]
    for key in KEYS:
        rows.append(f"| {key} | " + " | ".join(pct(figures[s]["slots"][key]["right"], figures[s]["slots"][key]["judged"]) for s in splits) + " |")
    rows += [
        "| **valid with wrong apartment/resident** | " + " | ".join(f"**{figures[s]['valid_wrong_target']}**" for s in splits) + " |",
        "| valid when not expected | " + " | ".join(str(figures[s]["valid_not_expected"]) for s in splits) + " |",
        "| response latency p50 / p95 | "
        + " | ".join(f"{figures[s]['response_ms_p50']:.0f} / {figures[s]['response_ms_p95']:.0f} ms" if figures[s]["response_ms_p50"] is not None else "—" for s in splits)
        + " |",
        "| STT p50 | " + " | ".join(f"{figures[s]['stt_ms_p50']:.0f} ms" if figures[s]["stt_ms_p50"] is not None else "—" for s in splits) + " |",
        "| answers (yes/no/keypad) | "
        + " | ".join("/".join(str(figures[s]["answers"].get(k, 0)) for k in ("yes", "no", "keypad")) for s in splits)
        + " |",
    ]  # fmt: skip
    return "\n".join(rows)


def find_calls(root: Path, splits: list[str], limit: int | None) -> list[Recording]:
    recordings = []
    for split in splits:
        paths = sorted((root / split).glob("*.slin"))
        if limit is not None:
            paths = paths[:limit]
        for path in paths:
            recording = load_recording(path)
            recording.info.setdefault("split", split)
            recordings.append(recording)
    return recordings


async def run_group(services, recordings: list[Recording], speed: float, jobs: int, progress) -> list[CallReport]:
    slots = asyncio.Semaphore(jobs)

    async def one(simulator: Simulator, recording: Recording) -> CallReport:
        async with slots:
            report = await simulator.call(recording)
            progress(report)
            return report

    async with Simulator(services, speed=speed) as simulator:
        return list(await asyncio.gather(*(one(simulator, r) for r in recordings)))


def describe(report: CallReport) -> str:
    got = final_slots(report)
    lines = [f"{report.recording.info.get('split')}/{report.recording.path.stem}: {'; '.join(report.mismatches) or 'right'}"]
    for turn in report.turns:
        lines.append(f"    visitante ({turn.source}): {turn.transcript}\n    concierge: {turn.reply.mensagem}")
    lines.append(f"    final: {got}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=Path, default=ROOT / ".apoena" / "eval", help="rendered calls (default .apoena/eval)")
    parser.add_argument("--split", nargs="+", choices=SPLITS, default=list(SPLITS))
    parser.add_argument("--limit", type=int, default=None, help="at most this many calls per split (the first, by name)")
    parser.add_argument("--speed", type=float, default=1.0, help="caller plays this many times faster (latency only valid at 1)")
    parser.add_argument("--jobs", type=int, default=1, choices=(1, 2), help="calls at a time (1 for latency figures)")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--report", type=Path, default=None, help="JSON report (default <calls>/report.json)")
    args = parser.parse_args()

    configure_logging()
    tune_for_real_time()
    recordings = find_calls(args.calls, args.split, args.limit)
    if not recordings:
        print(f"no rendered calls under {args.calls}; run scripts/render_dialogs.py first", file=sys.stderr)
        return 2
    started = time.time()
    load_before = os.getloadavg()
    git = lambda *args: subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()  # noqa: E731
    commit, dirty = git("rev-parse", "--short", "HEAD"), bool(git("status", "--porcelain", "--untracked-files=no"))
    reports: dict[int, CallReport] = {}
    done = 0

    def progress(report: CallReport) -> None:
        nonlocal done
        done += 1
        verdict = "right" if report.passed else "WRONG"
        alarm = " !!! VALID WITH WRONG TARGET !!!" if wrong_target(report) else ""
        print(
            f"[{done}/{len(recordings)}] {report.recording.info.get('split')}/{report.recording.path.stem}: {verdict} "
            f"({report.outcome}, {len(report.turns)} turns, {len(report.answers)} answers){alarm}"
            + ("" if report.passed else "\n    " + "; ".join(report.mismatches)),
            file=sys.stderr,
            flush=True,
        )

    for directory, indices in group_by_directory(recordings).items():
        with simulation_services(args.config, directory) as (_, services):
            group = [recordings[i] for i in indices]
            for index, report in zip(indices, asyncio.run(run_group(services, group, args.speed, args.jobs, progress))):
                reports[index] = report
    ordered = [reports[i] for i in range(len(recordings))]

    by_split = {s: [r for r in ordered if r.recording.info.get("split") == s] for s in SPLITS}
    figures = {s: split_figures(rs) for s, rs in by_split.items() if rs}
    batches: dict[str, list[CallReport]] = {}  # blind dialogs come in batches; the later ones were seen by nobody
    for report in by_split["blind"]:
        batches.setdefault(batch_of(report), []).append(report)
    by_batch = {name: split_figures(rs) for name, rs in sorted(batches.items())}
    alarms = [r for r in ordered if danger(r)]

    print(f"\n{len(ordered)} calls in {(time.time() - started) / 60:.1f} min, {args.jobs} at a time, speed {args.speed:g}")
    for split, f in figures.items():
        print(f"\n== {split}: {f['calls']} calls ==")
        print(f"calls right: {pct(f['right'], f['calls'])}")
        for key, s in f["slots"].items():
            print(f"  {key:17s} {pct(s['right'], s['judged'])}")
        print(f"valid_for_action with a wrong apartment or resident: {f['valid_wrong_target']}")
        print(f"valid_for_action when the dialog expects not: {f['valid_not_expected']}")
        print(f"response latency p50 {f['response_ms_p50']} ms, p95 {f['response_ms_p95']} ms; STT p50 {f['stt_ms_p50']} ms ({f['turns']} turns)")
        print(f"answers given: {f['answers'] or 'none'}; calls where a turn went unanswered: {f['calls_with_unheard_turns']}; outcomes: {f['outcomes']}")
    if alarms:
        print("\n" + "!" * 78)
        print(f"!!! {len(alarms)} call(s) ended valid_for_action when they must not have:")
        for report in alarms:
            print(f"!!! {report.recording.info.get('split')}/{report.recording.path.stem}: {'; '.join(danger(report))}")
        print("!" * 78)
    else:
        print("\nno call ended valid_for_action with a wrong apartment or resident")
    if len(by_batch) > 1:
        print("\nblind, by batch:")
        for name, f in by_batch.items():
            print(f"  {name}: right {pct(f['right'], f['calls'])}; valid with wrong target {f['valid_wrong_target']}")
    print("\n" + markdown(figures))
    failures = [r for r in ordered if not r.passed]
    if failures:
        print(f"\nwrong calls ({len(failures)}):")
        for report in failures:
            print(describe(report))

    out = args.report or args.calls / "report.json"
    out.write_text(
        json.dumps(
            {
                "run": {
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
                    "minutes": round((time.time() - started) / 60, 1),
                    "commit_at_start": commit,
                    "tracked_files_modified_at_start": dirty,
                    "jobs": args.jobs,
                    "speed": args.speed,
                    "splits": args.split,
                    "limit": args.limit,
                    "load_average_at_start": [round(x, 2) for x in load_before],
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                },
                "splits": figures,
                "blind_batches": by_batch,
                "alarms": [{"call": str(r.recording.path), "why": danger(r)} for r in alarms],
                "markdown": markdown(figures),
                "calls": [r.as_json() for r in ordered],
            },
            ensure_ascii=False,
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"\nreport: {out}")
    return 1 if alarms else 0


if __name__ == "__main__":
    sys.exit(main())
