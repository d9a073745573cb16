#!/usr/bin/env bash
# The typed API: python/mlpcore/_core.pyi must be what pybind11-stubgen makes
# of the installed extension (a CPU build), and mypy must pass on examples/
# against the installed package (py.typed + the stub).
# Regenerate the stub after changing the bindings:
#   (cd /tmp && pybind11-stubgen mlpcore._core -o "$OLDPWD/python")
# Run from .ci/run inside its virtualenv, after the package is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
pip install --quiet "pybind11-stubgen==3.0.0" "mypy==2.4.1"
out="$(mktemp -d)"
# From another folder, so that the installed package is the one imported.
(cd "$out" && python -m pybind11_stubgen mlpcore._core -o "$out/stubs" > "$out/stubgen.log" 2>&1) \
  || { cat "$out/stubgen.log"; exit 1; }
if ! diff -u python/mlpcore/_core.pyi "$out/stubs/mlpcore/_core.pyi"; then
  echo "typing: python/mlpcore/_core.pyi is not what the bindings give; regenerate it (see .ci/check_typing.sh)"
  exit 1
fi
python -c 'import mlpcore, os, sys; d = os.path.dirname(mlpcore.__file__); missing = [f for f in ("py.typed", "_core.pyi") if not os.path.exists(os.path.join(d, f))]; sys.exit("typing: not installed: %s" % missing if missing else 0)'
(cd "$out" && python -m mypy --ignore-missing-imports --no-incremental "$OLDPWD/examples")
echo "typing: stub current, mypy passes on examples/"
