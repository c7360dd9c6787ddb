#!/usr/bin/env bash
# Runs the test suites (built in Release) again as a CPU with AVX2 and without AVX-512, VNNI or AMX runs them (an
# AMD Zen 3, Intel before Skylake-SP): .NET, libtorch and ONNX Runtime then take the kernels they take there, whose
# float sums round differently and whose int8 products add in saturating 16-bit pairs. Machines that run the tests
# differ in this from day to day, and a test that holds on one kind only turns the other's run red.
#
# Where this CPU has none of those features, the suites' first run was that run, and nothing is repeated. Where
# they cannot be hidden (no CPUID faulting, no gcc), it says so and goes on: the int8 tests still run on an
# emulated CPU without VNNI (scripts/int8-without-vnni.sh). Extra arguments go to dotnet test.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[tests-avx2-only] %s\n' "$*"; }

if ! grep -qw 'avx512f\|avx512_vnni\|avx_vnni\|amx_int8' /proc/cpuinfo 2>/dev/null; then
  say "this CPU has no AVX-512, VNNI or AMX to hide: the tests above ran as such a CPU runs them"
  exit 0
fi
if ! bash scripts/avx2-only.sh --check; then
  say "skipped: this machine cannot hide its CPU's AVX-512 and VNNI (see above)"
  exit 0
fi
# The built test assemblies themselves, not the solution: no build node of an earlier command runs them.
suites=(tests/EfficientViT.ML.Tests/bin/Release/net10.0/EfficientViT.ML.Tests.dll tests/Service.Tests/bin/Release/net10.0/Service.Tests.dll)
for suite in "${suites[@]}"; do
  [ -f "$suite" ] || { say "$suite not found: build first (dotnet build EfficientViT.MLNet.sln -c Release)"; exit 1; }
done
started=$(date +%s)
status=0
bash scripts/avx2-only.sh dotnet test "${suites[@]}" "$@" || status=$?
if [ $status -ne 0 ]; then
  say "FAILED (exit $status) as a CPU with AVX2 only, after $(( $(date +%s) - started )) s"
  exit $status
fi
say "passed as a CPU with AVX2 only in $(( $(date +%s) - started )) s"
