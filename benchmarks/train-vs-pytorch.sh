#!/usr/bin/env bash
# Training speed of this project next to EfficientViT in PyTorch, in one run on one machine.
#
# Rounds alternate the two (project, PyTorch, then both with gperftools' tcmalloc preloaded, ...), so a
# change of machine load hits both alike; each side is measured at 1 and 2 threads, with the C library's
# malloc and with tcmalloc (which the efficientvit command line preloads, and PyTorch's performance guide
# recommends), and compared at its best.
# Same work on both sides: M0 in train mode, random 3xSxS images, batch 128, 10 classes, cross-entropy,
# AdamW step (the project also clips gradients, as its recipe does). The PyTorch side is
# benchmarks/pytorch/train_step.py (the official architecture, benchmarks/pytorch/efficientvit.py), run in a
# Debian 13 root of its own that benchmarks/pytorch/setup-root.sh makes: never install python3-torch on the
# machine itself (it breaks TorchSharp's notebook loader).
#
# Usage (as root, for chroot): benchmarks/train-vs-pytorch.sh [--root /opt/pytorch-trixie] [--sizes 64,112] [--rounds 2] [--seconds 10]
set -euo pipefail

root=/opt/pytorch-trixie sizes=64,112 rounds=2 seconds=10
while [[ $# -gt 0 ]]; do
  case "$1" in
    --root) root=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "$0")/.." && pwd)
[[ -x $root/usr/bin/python3 ]] || { echo "no PyTorch root at $root: make one with benchmarks/pytorch/setup-root.sh" >&2; exit 1; }
[[ -e $root/proc/self ]] || mount --bind /proc "$root/proc"
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[[ -e $tcmalloc ]] || { echo "missing $tcmalloc: run scripts/setup.sh" >&2; exit 1; }
[[ -e $root$tcmalloc ]] || chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libtcmalloc-minimal4t64 > /dev/null \
  || { echo "missing $root$tcmalloc: install libtcmalloc-minimal4t64 in the PyTorch root" >&2; exit 1; }

dotnet build "$here/benchmarks/EfficientViT.Benchmarks" -c Release -v quiet -nologo > /dev/null
project_dll=$here/benchmarks/EfficientViT.Benchmarks/bin/Release/net10.0/EfficientViT.Benchmarks.dll

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; $(chroot "$root" python3 -c 'import torch; print("PyTorch", torch.__version__)')"
echo "started $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# Prints "threads img/s" lines for one side.
project() { # size, library to preload ("" = the C library's malloc)
  env -u LD_PRELOAD ${2:+LD_PRELOAD=$2} dotnet "$project_dll" --training --training-size "$1" --threads 1,2 --rounds 1 --seconds "$(awk "BEGIN{print $seconds/2}")" 2>/dev/null \
    | awk '$1 ~ /^[12]$/ && $2 == "1" { print $1, $3 }'
}
pytorch() { # size, library to preload ("" = the C library's malloc)
  bash "$here/benchmarks/pytorch/run.sh" --root "$root" env ${2:+LD_PRELOAD=$2} python3 benchmarks/pytorch/train_step.py --size "$1" --threads 1,2 --warmup 3 --time "$seconds" 2>/dev/null \
    | awk '/^threads/ { sub(":", "", $2); print $2, $3 }'
}
best() { sort -k2 -g | tail -1 | awk '{ printf "%s (%s thr)", $2, $1 }'; }
rate() { sort -k2 -g | tail -1 | awk '{ print $2 }'; }
at() { awk -v t="$1" '$1 == t { print $2 }'; }

printf '\n%-5s %-5s | %-8s %-8s | %-8s %-8s | %-8s %-8s | %-8s %-8s | %s\n' size round "ours 1" "ours 2" "ours-tc 1" "ours-tc 2" "PT 1" "PT 2" "PT-tc 1" "PT-tc 2" "ours best / PyTorch best"
for round in $(seq 1 "$rounds"); do
  for size in ${sizes//,/ }; do
    ours=$(project "$size" "")
    pt=$(pytorch "$size" "")
    ourstc=$(project "$size" "$tcmalloc")
    pttc=$(pytorch "$size" "$tcmalloc")
    o=$(printf '%s\n%s\n' "$ours" "$ourstc" | rate) p=$(printf '%s\n%s\n' "$pt" "$pttc" | rate)
    printf '%-5s %-5s | %-8s %-8s | %-8s %-8s | %-8s %-8s | %-8s %-8s | %s / %s = %.2fx\n' "$size" "$round" \
      "$(at 1 <<< "$ours")" "$(at 2 <<< "$ours")" "$(at 1 <<< "$ourstc")" "$(at 2 <<< "$ourstc")" \
      "$(at 1 <<< "$pt")" "$(at 2 <<< "$pt")" "$(at 1 <<< "$pttc")" "$(at 2 <<< "$pttc")" \
      "$o" "$p" "$(awk "BEGIN{print $o/$p}")"
  done
done
echo
echo "images/s. ours: this project (benchmarks/EfficientViT.Benchmarks --training); PT: the same model in PyTorch (benchmarks/pytorch/train_step.py);"
echo "both with the C library's malloc; -tc: the same with tcmalloc preloaded (the efficientvit command line's default)."
echo "Best = the best of the four figures of each side."
echo "finished $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
