#!/usr/bin/env bash
# Sets the machine up (see scripts/setup.sh), then runs the Fashion-MNIST demo: trains EfficientViT-M0,
# evaluates it, and builds, evaluates and saves an ML.NET pipeline with it. Extra arguments go to
# `efficientvit demo` (e.g. --long, --epochs 10, --resume).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dotnet run -c Release --project src/Training -- demo "$@"
