#!/usr/bin/env bash
# Runs a command inside the PyTorch root made by benchmarks/pytorch/setup-root.sh, in this repository:
# the repository is bound at /repo inside the root for the run, and the command starts there, with a clean
# environment (set variables with env, as below). Examples, from the repository root, as root:
#   benchmarks/pytorch/run.sh python3 benchmarks/pytorch/check_fixture.py
#   benchmarks/pytorch/run.sh env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 \
#       python3 benchmarks/pytorch/train_step.py --size 64 --threads 1,2
#   benchmarks/pytorch/run.sh python3 benchmarks/pytorch/export_features.py --out artifacts/pytorch-export
# Options before the command: --root DIR (default /opt/pytorch-trixie).
set -euo pipefail

root=/opt/pytorch-trixie
if [[ ${1:-} == --root ]]; then root=$2; shift 2; fi
[[ $# -gt 0 ]] || { echo "usage: $0 [--root DIR] COMMAND [ARGS...]" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "run as root: mount and chroot need it" >&2; exit 1; }
[[ -x $root/usr/bin/python3 ]] && chroot "$root" python3 -c 'import torch' 2> /dev/null \
  || { echo "no PyTorch root at $root: make one with benchmarks/pytorch/setup-root.sh" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/../.." && pwd)
[[ -e $root/proc/self ]] || mount --bind /proc "$root/proc"
mkdir -p "$root/repo"
if ! mountpoint -q "$root/repo"; then
  mount --bind "$repo" "$root/repo"
  trap 'umount "$root/repo"' EXIT
fi
chroot "$root" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 sh -c 'cd /repo && "$@"' sh "$@"
