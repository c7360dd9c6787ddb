#!/usr/bin/env bash
# Sets the machine up (see scripts/setup.sh), builds and runs every test, runs them again as a CPU with AVX2
# and without AVX-512 or VNNI runs them (scripts/tests-avx2-only.sh), runs the int8 tests on an emulated CPU
# without VNNI (scripts/int8-without-vnni.sh), load-tests the image-classification
# service briefly (samples/Service.LoadTest --quick) and soaks it in good, large and malformed uploads
# (--soak: 300 uploads, about half a minute, with a three-minute limit), loads the hostile checkpoints through the CLI
# (scripts/hostile-info.sh), fuzzes the file readers for about two minutes (scripts/fuzz.sh), then checks
# the NuGet package in a fresh project (scripts/package-check.sh) and runs every notebook (scripts/notebooks.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/check-links.sh
# Every temporary file of the run goes into one folder removed at the end. An ML.NET ONNX step keeps a copy of
# its network there until it is disposed (several MiB each), and a test process that ends with one undisposed
# leaves the copy behind: without this, every run would leave hundreds of MiB in the system's temp folder.
run_temp=$(mktemp -d "${TMPDIR:-/tmp}/efficientvit-test.XXXXXX")
trap 'rm -rf "$run_temp"' EXIT
export TMPDIR="$run_temp"
dotnet test EfficientViT.MLNet.sln -c Release "$@"
bash scripts/tests-avx2-only.sh "$@"
bash scripts/int8-without-vnni.sh
dotnet run --project samples/Service.LoadTest -c Release --no-build -- --quick
dotnet run --project samples/Service.LoadTest -c Release --no-build -- --soak
bash scripts/hostile-info.sh
bash scripts/fuzz.sh
bash scripts/package-check.sh
bash scripts/notebooks.sh
