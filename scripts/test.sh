#!/usr/bin/env bash
# Sets the machine up (see scripts/setup.sh), then builds and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dotnet test EfficientViT.MLNet.sln -c Release "$@"
