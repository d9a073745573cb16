"""Peak memory of code run in a fresh interpreter, from the kernel's peak
resident set (VmHWM in /proc/self/status; Linux only). The code runs after
PRELUDE: mlpcore imported from this tree, status(field) in bytes, and
reset_peak() (peak := current resident set, through /proc/self/clear_refs), so
native allocations count and the interpreter's own start-up does not."""

import json
import os
import subprocess
import sys

import pytest

import mlpcore as mc

PRELUDE = r"""
import json, sys
sys.path[:0] = [sys.argv[1]]
import numpy as np
import mlpcore as mc

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field + " not in /proc/self/status")

def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # peak resident set := current resident set
"""


def run_measured(code, *args):
    """Runs PRELUDE + code on two OpenMP threads, args in sys.argv[2:]: the
    JSON of the last line it prints. Skips where the kernel does not let a
    process reset its peak resident set."""
    pkg = os.path.dirname(os.path.dirname(mc.__file__))
    out = subprocess.run([sys.executable, "-c", PRELUDE + code, pkg, *args], capture_output=True, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS="2"), timeout=300)
    if out.returncode != 0 and "clear_refs" in out.stderr:
        pytest.skip("the kernel does not let a process reset its peak resident set")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])
