#!/usr/bin/env bash
# Packs EfficientViT.ML and EfficientViT.Reporting (its SVG charts) into artifacts/packages, the local feed
# the notebooks and the package check use.
# NuGet caches a package by id and version, so the cached copy of each version is dropped first: a
# rebuilt package would otherwise be shadowed by the one restored before it.
set -euo pipefail
cd "$(dirname "$0")/.."
for project in EfficientViT.ML EfficientViT.Reporting; do
  csproj=src/$project/$project.csproj
  version=$(sed -n 's|.*<Version>\(.*\)</Version>.*|\1|p' "$csproj")
  id=$(echo "$project" | tr '[:upper:]' '[:lower:]')
  rm -rf "${NUGET_PACKAGES:-$HOME/.nuget/packages}/$id/$version"
  rm -f artifacts/packages/"$project".[0-9]*.nupkg
  dotnet pack "$csproj" -c Release -o artifacts/packages --nologo -v quiet
  echo "packed artifacts/packages/$project.$version.nupkg"
done
