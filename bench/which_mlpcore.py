"""Which mlpcore the benchmarks import: the one rule, shared by every script in bench/.

1. If PYTHONPATH already names a folder holding an ``mlpcore`` package with a
   built ``_core`` (a sanitizer or CUDA build that .ci/ or bench/cuda_device_check.sh
   put there), that one: the caller chose.
2. Else, if this checkout's ``python/mlpcore`` holds a built ``_core`` for this
   interpreter (the in-tree development build of README "Development"), that one:
   the development build is what is being measured.
3. Else whatever ``import mlpcore`` finds: the installed package (``pip install .``).
   The source tree without a built ``_core`` is never imported.

``select()`` applies the rule to this process (sys.path) and to the processes it
starts (PYTHONPATH in os.environ), so workers import the same mlpcore as their
parent. Call it before the first ``import mlpcore``.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys

TREE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python")


def tree_has_build(tree: str = TREE) -> bool:
    """True when tree/mlpcore holds an extension module _core this interpreter can load."""
    pkg = os.path.join(tree, "mlpcore")
    return any(os.path.isfile(os.path.join(pkg, "_core" + suffix))
               for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def _same(a: str, b: str) -> bool:
    return os.path.abspath(a or os.curdir) == os.path.abspath(b)


def select() -> str:
    """Apply the rule; return a short description of the choice (for a header line)."""
    pythonpath = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    chosen = next((p for p in pythonpath if tree_has_build(p)), None)
    if chosen is not None:
        return f"from PYTHONPATH ({os.path.abspath(chosen)})"
    if tree_has_build():
        if TREE not in sys.path:
            sys.path.insert(0, TREE)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in [TREE, os.environ.get("PYTHONPATH", "")] if p)
        return f"in-tree build ({TREE})"
    # Never the bare source tree: drop it from sys.path (and PYTHONPATH) if something put it there.
    sys.path[:] = [p for p in sys.path if not _same(p, TREE)]
    if pythonpath:
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in pythonpath if not _same(p, TREE))
    if importlib.util.find_spec("mlpcore") is None:
        raise SystemExit("mlpcore is not installed and python/mlpcore has no built _core: "
                         "run `pip install .` (README) or make an in-tree build (README, Development)")
    return "installed"
