#!/usr/bin/env bash
# Bounded fuzz of the file readers: mutations (bit flips, byte overwrites, truncations, splices) of the official
# M0 .pth, of the same weights saved as safetensors and of a small PNG, loaded by tests/ReaderFuzz in child
# processes, each with a hard address-space limit (prlimit), a per-input peak-RSS limit and a per-input time
# limit. Fails on any crash, timeout, limit breach or error other than a clean one-line refusal; prints how many
# inputs were tried. Failing inputs are kept in $FUZZ_OUT/failures; rerun one input with
#   tests/ReaderFuzz/bin/Release/net10.0/ReaderFuzz KIND SEED_FILE FUZZ_SEED INDEX 1 WORK_DIR 700 20
# Expects the solution built in Release (scripts/test.sh does that first).
set -euo pipefail
cd "$(dirname "$0")/.."

SEED=${FUZZ_SEED:-20251202}             # deterministic: the same seed gives the same inputs
CHECKPOINTS=${FUZZ_CHECKPOINTS:-600}    # inputs per checkpoint kind (pth, safetensors)
IMAGES=${FUZZ_IMAGES:-2000}             # PNG inputs
OUT=${FUZZ_OUT:-$(mktemp -d /tmp/efficientvit-fuzz.XXXXXX)}
MAX_RSS_MIB=700      # per input; loading the real M0 peaks near 400 MiB in one process
MAX_SECONDS=20       # per input, of processor time (ten times as much wall time); the real M0 loads in well under a second
# .NET reserves address space for its heap up front; a 256 MiB region range lets a child (libtorch included) run
# under a 2 GiB hard limit, which a hostile input cannot push past without the child failing.
ADDRESS_SPACE=$((2 << 30))
CHILD=tests/ReaderFuzz/bin/Release/net10.0/ReaderFuzz
[ -x "$CHILD" ] || dotnet build tests/ReaderFuzz -c Release -v q --nologo >/dev/null

mkdir -p "$OUT"
OFFICIAL=tests/EfficientViT.ML.Tests/Fixtures/official-m0/efficientvit_m0.pth
"$CHILD" make-safetensors "$OFFICIAL" "$OUT/seed.safetensors"
python3 - "$OUT/seed.png" <<'PY'
import struct, sys, zlib
w, h = 48, 32
rows = b"".join(b"\x00" + bytes(v for x in range(w) for v in (x * 5 % 256, y * 8 % 256, (x + y) * 3 % 256)) for y in range(h))
chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                               + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
PY

# One child per batch, so .NET and libtorch start once per batch, not per input; the five run side by side.
run_batch() { # KIND SEED_FILE FIRST COUNT
    local work="$OUT/$1-$3"
    mkdir -p "$work"
    local status=0
    DOTNET_GCRegionRange=0x10000000 timeout 1800 prlimit --as=$ADDRESS_SPACE \
        "$CHILD" "$1" "$2" "$SEED" "$3" "$4" "$work" $MAX_RSS_MIB $MAX_SECONDS >"$work/log" 2>&1 || status=$?
    if [ $status -ne 0 ] && [ $status -ne 1 ]; then
        # Killed (timeout, signal) or crashed: the input it was on is still in current.KIND.
        mkdir -p "$OUT/failures"
        cp "$work/current.$1" "$OUT/failures/$1-$SEED-crashed-in-batch-$3.$1" 2>/dev/null || true
        echo "FAIL $1 batch from $3: the child ended with status $status" >>"$work/log"
    fi
    [ -d "$work/failures" ] && mkdir -p "$OUT/failures" && cp "$work/failures/"* "$OUT/failures/" 2>/dev/null || true
    return $status
}

start=$(date +%s)
pids=()
half=$((CHECKPOINTS / 2))
run_batch pth "$OFFICIAL" 0 $half & pids+=($!)
run_batch pth "$OFFICIAL" $half $((CHECKPOINTS - half)) & pids+=($!)
run_batch safetensors "$OUT/seed.safetensors" 0 $half & pids+=($!)
run_batch safetensors "$OUT/seed.safetensors" $half $((CHECKPOINTS - half)) & pids+=($!)
run_batch png "$OUT/seed.png" 0 "$IMAGES" & pids+=($!)

failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
cat "$OUT"/*/log
tried=$(cat "$OUT"/*/log | sed -n 's/^[a-z]* [0-9.]*: \([0-9]*\) inputs.*/\1/p' | paste -sd+ | bc)
echo "fuzz: ${tried:-0} inputs tried (seed $SEED) in $(( $(date +%s) - start )) s; work folder $OUT"
if [ $failed -ne 0 ] || grep -q '^FAIL' "$OUT"/*/log; then
    echo "fuzz: FAILED; the failing inputs are in $OUT/failures" >&2
    exit 1
fi
