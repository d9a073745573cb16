"""After the test run: did torch import, and which PyTorch parity tests ran or were skipped.

    python .ci/parity_report.py JUNIT_XML      # the --junitxml of `python -m pytest tests`

A parity test is one whose name says "pytorch" or one skipped for want of torch
(pytest.importorskip("torch")). A report only: it exits 0 unless the file is unreadable.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter


def main(path: str) -> int:
    try:
        import torch
        print(f"torch {torch.__version__} imports")
    except Exception as e:  # noqa: BLE001 - any failure to import is the answer
        print(f"torch does not import ({type(e).__name__}: {e})")
    outcomes: dict[str, Counter] = {}
    for case in ET.parse(path).iter("testcase"):
        name = case.get("name", "")
        skipped = case.find("skipped")
        reason = "" if skipped is None else (skipped.get("message") or "")
        if "pytorch" not in name.lower() and "torch" not in reason:
            continue
        if skipped is not None:
            outcome = "skipped"
        elif case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        else:
            outcome = "passed"
        base = case.get("classname", "") + "." + re.sub(r"\[.*", "", name)  # parameters left out
        outcomes.setdefault(base, Counter())[outcome] += 1
    if not outcomes:
        print("PyTorch parity tests: none found in", path)
        return 0
    total = sum(outcomes.values(), Counter())
    print(f"PyTorch parity tests: {total['passed'] + total['failed']} ran ({total['passed']} passed, "
          f"{total['failed']} failed), {total['skipped']} skipped")
    for base, c in sorted(outcomes.items()):
        print(f"  {base}: " + ", ".join(f"{n} {k}" for k, n in sorted(c.items())))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    raise SystemExit(main(sys.argv[1]))
