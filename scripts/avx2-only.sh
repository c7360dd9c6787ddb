#!/usr/bin/env bash
# Runs a command on this machine's CPU as a CPU with AVX2 and without AVX-512, VNNI or AMX (an AMD Zen 3, say)
# would run it: .NET, libtorch and ONNX Runtime see no such features and choose the kernels they choose on such
# a CPU, at this machine's own speed. Emulation (scripts/int8-without-vnni.sh) shows another CPU's arithmetic
# but nothing of its speed; this shows the arithmetic of those kernels and what they cost on this CPU.
#
#   bash scripts/avx2-only.sh COMMAND [ARGUMENTS...]
#   bash scripts/avx2-only.sh --check     (whether this machine can: exit 0, or exit 3 saying why not)
#
# How: scripts/avx2-only/cpuid-mask.c, compiled here with gcc and preloaded into the command (and every
# process it starts), makes the CPUID instruction fault and answers it with those features' bits cleared.
# That needs gcc and CPUID faulting from the CPU or its hypervisor (/proc/cpuinfo flag cpuid_fault: recent
# Intel CPUs, KVM guests); without them the script says so and exits 3 without running the command. Before
# running the command it checks, with tests/EmulatedCpu, that .NET sees the CPU as it should.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

say() { printf '[avx2-only] %s\n' "$*" >&2; }

[ $# -ge 1 ] || { echo "usage: bash scripts/avx2-only.sh COMMAND [ARGUMENTS...] | --check" >&2; exit 2; }
if [ "$(uname -s)" != "Linux" ] || [ "$(uname -m)" != "x86_64" ]; then
  say "needs x86_64 Linux, this is $(uname -s) $(uname -m)"; exit 3
fi
if ! grep -qw cpuid_fault /proc/cpuinfo; then
  say "this CPU (or its hypervisor) offers no CPUID faulting (no cpuid_fault in /proc/cpuinfo): features cannot be hidden here"
  exit 3
fi
command -v gcc >/dev/null || { say "gcc not found (scripts/setup.sh installs it)"; exit 3; }
[ "$1" = "--check" ] && exit 0

work=$(mktemp -d "${TMPDIR:-/tmp}/avx2-only.XXXXXX")
trap 'rm -rf "$work"' EXIT
gcc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$work/cpuid-mask.so" "$root/scripts/avx2-only/cpuid-mask.c" -ldl
mask="$work/cpuid-mask.so${LD_PRELOAD:+ $LD_PRELOAD}"

check="$root/tests/EmulatedCpu/bin/Release/net10.0/EmulatedCpu.dll"
dotnet build "$root/tests/EmulatedCpu" -c Release -v q --nologo >/dev/null
if ! report=$(LD_PRELOAD="$mask" dotnet "$check" cpu); then
  say "the features are not hidden as they should be:"; printf '%s\n' "$report" | sed 's/^/    /' >&2; exit 1
fi
printf '%s\n' "$report" | sed 's/^/[avx2-only]     /' >&2
status=0
LD_PRELOAD="$mask" "$@" || status=$?
exit $status
