#!/usr/bin/env bash
# Runs `efficientvit info` on every hostile checkpoint in tests/EfficientViT.ML.Tests/Fixtures/hostile, each with a
# 60 s time limit and a 2 GiB address-space limit (.NET and libtorch cannot start under 1 GiB: the GC and
# libtorch reserve more address space than they use), and checks that each ends in exit code 1 with exactly
# one line, starting "error: ", on stderr, at a peak resident memory under 1 GiB (measured by /usr/bin/time).
# Expects the solution built in Release (scripts/test.sh does that first).
set -euo pipefail
cd "$(dirname "$0")/.."

CLI=src/Training/bin/Release/net10.0/efficientvit
FIXTURES=tests/EfficientViT.ML.Tests/Fixtures/hostile
MAX_RSS_KIB=$((1 << 20))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tried=0
failed=0
for file in "$FIXTURES"/*.pth "$FIXTURES"/*.safetensors; do
    tried=$((tried + 1))
    status=0
    DOTNET_GCRegionRange=0x10000000 /usr/bin/time -f "%M" -o "$work/rss" \
        timeout 60 prlimit --as=$((2 << 30)) "$CLI" info "$file" >"$work/out" 2>"$work/err" || status=$?
    rss=$(tail -1 "$work/rss")
    if [ "$status" -eq 1 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q '^error: ' "$work/err" && [ "$rss" -lt $MAX_RSS_KIB ]; then
        echo "ok   $(basename "$file") ($((rss / 1024)) MiB): $(cut -c1-160 "$work/err")"
    else
        failed=$((failed + 1))
        echo "FAIL $(basename "$file"): exit $status, peak $((rss / 1024)) MiB, stderr:"
        sed 's/^/     /' "$work/err" | head -20
    fi
done
echo "hostile checkpoints: $tried tried through efficientvit info, $failed failed"
[ "$failed" -eq 0 ]
