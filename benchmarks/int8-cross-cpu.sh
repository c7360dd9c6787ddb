#!/usr/bin/env bash
# Int8 accuracy of a checkpoint on this CPU and on an emulated CPU without VNNI, side by side.
#
#   bash benchmarks/int8-cross-cpu.sh CHECKPOINT OUTDIR [--test N]
#
# First the int8 benchmark's `accuracy` runs here: float32 against the int8 graphs (feature cosine and an
# ML.NET head's top-1 on Fashion-MNIST), and writes the graphs, test images and features to OUTDIR. Then
# its `cross-cpu` runs the same graphs under QEMU's user mode as an AMD EPYC-Milan (AVX2, no AVX-512, no
# VNNI: Debian's qemu-user 7.2 emulates no AVX-512), where ONNX Runtime takes its kernels for CPUs without
# VNNI, and compares their features with float32 and with this CPU's. Emulation is slow (about a tenth of a
# second per 64x64 M0 image and graph): --test N (default 300) limits the emulated run. Needs qemu-user
# (apt-get install qemu-user); tables go to OUTDIR/accuracy.txt and OUTDIR/cross-cpu.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: bash benchmarks/int8-cross-cpu.sh CHECKPOINT OUTDIR [--test N]" >&2; exit 2; }
checkpoint=$1 out=$2; shift 2
test_count=300
if [ "${1:-}" = "--test" ]; then test_count=$2; fi
command -v qemu-x86_64 >/dev/null || { echo "qemu-x86_64 is missing: apt-get install qemu-user" >&2; exit 1; }
dotnet build benchmarks/EfficientViT.Int8.Benchmarks -c Release -v quiet -nologo >/dev/null
bench=benchmarks/EfficientViT.Int8.Benchmarks/bin/Release/net10.0/EfficientViT.Int8.Benchmarks.dll
mkdir -p "$out"
echo "[int8-cross-cpu] accuracy on this CPU -> $out/accuracy.txt"
dotnet "$bench" accuracy "$checkpoint" --graphs "$out" | tee "$out/accuracy.txt"
echo "[int8-cross-cpu] the same graphs on an emulated AMD EPYC-Milan (no VNNI) -> $out/cross-cpu.txt"
DOTNET_EnableWriteXorExecute=0 qemu-x86_64 -cpu EPYC-Milan "$(readlink -f "$(command -v dotnet)")" "$bench" cross-cpu "$out" --test "$test_count" \
  2> >(grep -v "warning: TCG doesn't support requested feature" >&2) | tee "$out/cross-cpu.txt"
