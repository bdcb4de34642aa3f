"""`apoena simulate` as a user runs it: bad input is refused fast; recorded calls run end to end."""

from __future__ import annotations

import json
import shutil
import wave

import pytest

from .test_cli import ROOT, run

FIXTURES = ROOT / "fixtures" / "calls"


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"directory": {"path": str(ROOT / "data" / "apartamentos.json")}}))
    return path


def make_file(name: str, content: bytes):
    def make(folder):
        (folder / name).write_bytes(content)
        return folder / name

    return make


def make_empty_folder(folder):
    (folder / "empty").mkdir()
    return folder / "empty"


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda folder: folder / "missing.slin", "no such file"),
        (make_empty_folder, "no .slin or .wav"),
        (make_file("odd.slin", b"\x00\x01\x02"), "odd.slin"),
        (make_file("bad.wav", b"RIFFnot really a wav"), "bad.wav"),
    ],
)
def test_bad_recordings_are_refused_with_exit_2(tmp_path, config, make, expected):
    result = run(["simulate", str(make(tmp_path)), "--config", str(config)])
    assert result.returncode == 2, result.stderr
    err = result.stderr.decode()
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unreadable_expectations_are_refused(tmp_path, config):
    shutil.copy(FIXTURES / "entrega.slin", tmp_path / "call.slin")
    (tmp_path / "call.json").write_text('{"dtmf": [{"at": 1}]}')
    result = run(["simulate", str(tmp_path / "call.slin"), "--config", str(config)])
    assert result.returncode == 2 and "call.json" in result.stderr.decode()


@pytest.mark.slow
def test_entrega_call_passes_and_reports_every_turn(tmp_path, config):
    out = tmp_path / "out"
    result = run(["simulate", str(FIXTURES / "entrega.slin"), "--json", "--out", str(out), "--config", str(config)], timeout=180)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    report = json.loads(result.stdout)
    call = report["calls"][0]
    assert call["passed"] is True and call["outcome"] == "completed"
    assert len(call["turns"]) == 2
    assert {"transcript", "reply", "stt_ms", "brain_ms", "tts_ms", "response_ms"} <= set(call["turns"][0])
    assert call["final"]["dados"]["resident_name"] == "Joana Prado" and call["final"]["valid_for_action"]
    with wave.open(str(out / "entrega.concierge.wav")) as saved:
        assert saved.getframerate() == 8000 and saved.getnframes() > 8000 * 3


@pytest.mark.slow
def test_unmet_expectations_exit_1(tmp_path, config):
    shutil.copy(FIXTURES / "entrega.slin", tmp_path / "entrega.slin")
    expected = json.loads((FIXTURES / "entrega.json").read_text())
    expected["expected"]["apartment_number"] = "202"
    (tmp_path / "entrega.json").write_text(json.dumps(expected))
    result = run(["simulate", str(tmp_path), "--json", "--no-wait", "--config", str(config)], timeout=180)
    assert result.returncode == 1
    call = json.loads(result.stdout)["calls"][0]
    assert call["passed"] is False and any("apartment_number" in m for m in call["mismatches"])
