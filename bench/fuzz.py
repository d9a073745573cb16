"""Fuzzing harness: hypothesis-generated calls of the whole public API (mc.ops,
the model API, the raw mlpcore._core functions, junk in every argument) and
``load`` fed arbitrary and damaged bytes, for a time budget.

    python bench/fuzz.py --seconds 60 [--targets load,junk] [--seed 1]

Every input must give a right result (checked against numpy where there is a
reference) or a clean exception (TypeError, ValueError, MemoryError,
FloatingPointError). It prints how many inputs each target tried and exits 1
on the first other outcome, with the failing input. A crash of the interpreter
is a failure too (faulthandler prints where); run it under the sanitizer build
(see .ci/run) to catch memory errors that do not crash.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import sys
import time
import traceback
from collections import Counter

import which_mlpcore

HERE = os.path.dirname(os.path.abspath(__file__))
which_mlpcore.select()
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

import property_targets as targets  # noqa: E402


class Failure(Exception):
    pass


def run_target(name: str, examples: int, rng_seed: int, counts: Counter) -> None:
    """Up to `examples` fresh inputs for one target (generation only, no shrinking
    of passing runs; a failure is shrunk and reported by hypothesis)."""
    strategy, check = targets.TARGETS[name]

    @seed(rng_seed)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def fuzz(case):
        counts[name] += 1
        check(case)

    fuzz()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="time budget (default 30)")
    parser.add_argument("--targets", default=",".join(targets.TARGETS),
                        help=f"comma-separated subset of {', '.join(targets.TARGETS)}")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="hypothesis seed (default: the time)")
    parser.add_argument("--chunk", type=int, default=50, help="inputs per round of one target")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in targets.TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}; choose from {list(targets.TARGETS)}")

    faulthandler.enable()
    counts: Counter = Counter()
    start = time.perf_counter()
    deadline = start + args.seconds
    round_ = 0
    print(f"fuzzing {', '.join(names)} for {args.seconds:g} s (seed {args.seed})", flush=True)
    try:
        while time.perf_counter() < deadline:
            for name in names:
                if time.perf_counter() >= deadline:
                    break
                run_target(name, args.chunk, args.seed + round_, counts)
            round_ += 1
    except Exception:  # noqa: BLE001 - a failing input: hypothesis has printed it
        traceback.print_exc()
        print(f"FAILED after {sum(counts.values())} inputs ({dict(counts)})", flush=True)
        return 1
    seconds = time.perf_counter() - start
    total = sum(counts.values())
    for name in names:
        print(f"  {name:<12}{counts[name]:>9,} inputs")
    print(f"ok: {total:,} inputs in {seconds:.1f} s ({total / seconds:,.0f}/s), no crash, "
          f"no wrong result, only clean exceptions", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
