"""Whisper's threads fit the cores the process is given, not the machine's (a node pinned with
taskset or a container's cpuset would otherwise run 2 replicas × 2 threads on one core)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from concierge.speech.whisper import WhisperOptions, usable_cpus

PRINT = "from concierge.speech.whisper import WhisperOptions as W; w = W(); print(w.cpu_threads, w.num_workers)"


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) not installed")
def test_one_core_given_one_thread_and_one_replica():
    out = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", PRINT], capture_output=True, check=True, text=True)
    assert out.stdout.split() == ["1", "1"]


def test_the_defaults_follow_the_affinity_and_stay_settable():
    cores = usable_cpus()
    assert cores == len(os.sched_getaffinity(0))
    options = WhisperOptions()
    assert options.cpu_threads == min(2, cores) and options.num_workers == (cores if cores <= 2 else cores // 2)
    assert (WhisperOptions(cpu_threads=3, num_workers=1).cpu_threads, WhisperOptions(num_workers=1).num_workers) == (3, 1)
