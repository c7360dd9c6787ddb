#!/usr/bin/env bash
# Packs EfficientViT.ML into artifacts/packages (the local feed the notebooks and the package check use).
# NuGet caches a package by id and version, so the cached copy of this version is dropped first: a
# rebuilt package would otherwise be shadowed by the one restored before it.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's|.*<Version>\(.*\)</Version>.*|\1|p' src/EfficientViT.ML/EfficientViT.ML.csproj)
rm -rf "${NUGET_PACKAGES:-$HOME/.nuget/packages}/efficientvit.ml/$version"
rm -f artifacts/packages/EfficientViT.ML.*.nupkg
dotnet pack src/EfficientViT.ML/EfficientViT.ML.csproj -c Release -o artifacts/packages --nologo -v quiet
echo "packed artifacts/packages/EfficientViT.ML.$version.nupkg"
