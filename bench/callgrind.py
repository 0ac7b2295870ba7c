"""Counting CPU instructions instead of timing: a benchmark runs itself again under
valgrind's callgrind, counting nothing until asked, and counts only what it measures.

On this shared, noisy machine the same code's wall-time medians can differ by half between
two runs; instruction counts are the same run to run, whatever else the machine is doing.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

#: Set (to callgrind's output folder) when a script runs itself under callgrind.
UNDER_CALLGRIND = "KVARN_BENCH_CALLGRIND_OUT"


def running_under_callgrind() -> bool:
    return bool(os.environ.get(UNDER_CALLGRIND))


def rerun_under_callgrind(argv: list[str]) -> None:
    """Replace this process by the same script under callgrind, instrumentation off."""
    out = tempfile.mkdtemp(prefix="kvarn-callgrind-")
    command = [
        "valgrind", "--tool=callgrind", "-q", "--instr-atstart=no",
        f"--callgrind-out-file={out}/callgrind.out", sys.executable, *argv,
    ]
    os.execvpe("valgrind", command, {**os.environ, UNDER_CALLGRIND: out})


def _control(*arguments: str) -> None:
    subprocess.run(["callgrind_control", *arguments, str(os.getpid())], check=True, capture_output=True)


def instructions(work: Callable[[], None], times: int) -> float:
    """Millions of instructions per call over ``times`` calls of ``work``: instrumentation
    on only while they run, then the counts dumped (which zeroes them) and read back."""
    out = Path(os.environ[UNDER_CALLGRIND])
    before = set(out.iterdir())
    # A full collection now rather than, at the allocation count that happens to trigger
    # it, inside some measured call (tens of millions of instructions over a large heap).
    gc.collect()
    _control("--instr=on")
    for _ in range(times):
        work()
    _control("--instr=off")
    _control("--dump")
    (dump,) = set(out.iterdir()) - before
    totals = [line for line in dump.read_text().splitlines() if line.startswith(("summary:", "totals:"))]
    dump.unlink()
    return int(totals[-1].split()[1]) / times / 1e6
