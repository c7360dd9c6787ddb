#!/usr/bin/env bash
# Puts PyTorch in a Debian 13 (trixie) root of its own, for the benchmarks that compare with it
# (benchmarks/train-vs-pytorch.sh, benchmarks/pytorch/export_features.py), without installing it on the
# machine itself.
#
# Why a separate root: Debian's python3-torch puts a libtorch on the system library path, and TorchSharp's
# interactive loader (the notebooks) then finds that libtorch.so before the one of its NuGet package and fails
# ("undefined symbol: _ZNK3c105Error4whatEv"). Inside the root, PyTorch sees only the root's libraries.
# Debian 13's python3-torch is PyTorch 2.6 with its AVX-512 kernels; Debian 12's is 1.13.
#
# Usage (as root: debootstrap, mount and chroot need it):
#   benchmarks/pytorch/setup-root.sh [--root /opt/pytorch-trixie] [--mirror http://deb.debian.org/debian]
# About 1.6 GB on disk. Running it again only installs what is missing. Remove the root with
#   umount /opt/pytorch-trixie/proc; rm -rf /opt/pytorch-trixie
set -euo pipefail

root=/opt/pytorch-trixie mirror=http://deb.debian.org/debian
while [[ $# -gt 0 ]]; do
  case "$1" in
    --root) root=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    *) echo "unknown option $1 (options: --root DIR, --mirror URL)" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "run as root: debootstrap, mount and chroot need it" >&2; exit 1; }

if ! command -v debootstrap > /dev/null; then
  echo "installing debootstrap (Debian's tool that builds a root file system; PyTorch itself goes into the root)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap > /dev/null
fi
if [[ ! -x $root/usr/bin/python3 ]]; then
  echo "building a minimal Debian 13 root in $root"
  debootstrap --variant=minbase --include=python3,ca-certificates trixie "$root" "$mirror"
fi
# PyTorch reads the processor's features and counts its cores from /proc.
[[ -e $root/proc/self ]] || mount --bind /proc "$root/proc"

echo "installing PyTorch, NumPy, ONNX (for torch.onnx.export) and tcmalloc inside $root"
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  python3-torch python3-numpy python3-onnx libtcmalloc-minimal4t64 > /dev/null
chroot "$root" python3 -c 'import torch; print("PyTorch", torch.__version__, "in '"$root"'")'
