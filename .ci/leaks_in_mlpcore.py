"""Reads LeakSanitizer's report(s) from stderr logs of a sanitized run and fails
if any leaked block was allocated through mlpcore's own code.

CPython, OpenSSL and extension modules (numpy, scipy, ...) keep objects alive
until the process ends, and LeakSanitizer lists them at exit; their stacks never
pass through mlpcore. A stack that does (a frame in mlpcore's sources, its
namespace or its extension module) is a leak of ours.

    python .ci/leaks_in_mlpcore.py LOG...
"""

import re
import sys

LEAK = re.compile(r"^(Direct|Indirect) leak of (\d+) byte", re.M)


def leaks(text: str):
    starts = [m.start() for m in LEAK.finditer(text)] + [len(text)]
    for a, b in zip(starts, starts[1:]):
        block = text[a:b].split("\n\n")[0]
        yield block


def main(paths) -> int:
    total = ours = 0
    for path in paths:
        with open(path, errors="replace") as f:
            text = f.read()
        for block in leaks(text):
            total += 1
            if "mlpcore" in block or "/cpp/src/" in block or "/cpp/bindings/" in block:
                ours += 1
                print(block, "\n", file=sys.stderr)
    print(f"leak check: {total} leak records at exit, {ours} through mlpcore")
    return 1 if ours else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
