#!/usr/bin/env bash
# Packs EfficientViT.ML, then builds a fresh console project outside the repository that installs the
# package from the local folder (plus the native libtorch and ONNX Runtime, the application's choices) and
# runs a featurization with it: tests/PackageCheck/Program.cs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
bash scripts/pack.sh
version=$(sed -n 's|.*<Version>\(.*\)</Version>.*|\1|p' src/EfficientViT.ML/EfficientViT.ML.csproj)
libtorch=$(sed -n 's|.*"libtorch-cpu-linux-x64" Version="\([^"]*\)".*|\1|p' Directory.Packages.props)
onnxruntime=$(sed -n 's|.*"Microsoft.ML.OnnxRuntime" Version="\([^"]*\)".*|\1|p' Directory.Packages.props)

project=$(mktemp -d /tmp/efficientvit-package-check.XXXXXX)
trap 'rm -rf "$project"' EXIT
cd "$project"
dotnet new console --name PackageCheck --output . --framework net10.0 >/dev/null
cat > nuget.config <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="efficientvit-local" value="$repo/artifacts/packages" />
  </packageSources>
</configuration>
XML
dotnet add package EfficientViT.ML --version "$version" >/dev/null
dotnet add package libtorch-cpu-linux-x64 --version "$libtorch" >/dev/null
# The library references ONNX Runtime's managed API only; the application adds the native runtime (CPU here).
dotnet add package Microsoft.ML.OnnxRuntime --version "$onnxruntime" >/dev/null
cp "$repo/tests/PackageCheck/Program.cs" Program.cs
echo "fresh project $project: EfficientViT.ML $version from $repo/artifacts/packages, libtorch-cpu-linux-x64 $libtorch, Microsoft.ML.OnnxRuntime $onnxruntime"
dotnet run -c Release
