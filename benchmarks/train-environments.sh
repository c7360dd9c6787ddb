#!/usr/bin/env bash
# Training speed of this project under different process environments (OpenMP wait policy, glibc malloc
# settings, ...), in one run: each round starts one benchmark process per environment, in turn, so that a
# change of machine load hits all of them alike. Each process measures 1 and 2 threads (or --threads).
# Prints img/s per environment, thread count and round, and the process's user and system CPU seconds and
# minor page faults (from /usr/bin/time, when installed).
#
# Usage: benchmarks/train-environments.sh [--size 64] [--rounds 2] [--seconds 3] [--threads 1,2] \
#          'default=' 'passive=OMP_WAIT_POLICY=PASSIVE' 'spin10k=GOMP_SPINCOUNT=10000' ...
# An environment is NAME=VAR=VALUE[,VAR=VALUE...]; NAME= alone is the environment as it is.
set -euo pipefail

size=64 rounds=2 seconds=3 threads=1,2
environments=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --*) echo "unknown option $1" >&2; exit 2 ;;
    *) environments+=("$1"); shift ;;
  esac
done
[[ ${#environments[@]} -gt 0 ]] || environments=('default=')

here=$(cd "$(dirname "$0")/.." && pwd)
dotnet build "$here/benchmarks/EfficientViT.Benchmarks" -c Release -v quiet -nologo > /dev/null
dll=$here/benchmarks/EfficientViT.Benchmarks/bin/Release/net10.0/EfficientViT.Benchmarks.dll
timer=()
[[ -x /usr/bin/time ]] && timer=(/usr/bin/time -f '%U %S %R')

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; ${size}x${size}, batch 128"
echo "started $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\n%-12s %-5s %-7s %-9s %-7s %-7s %s\n' environment round threads "img/s" "user s" "sys s" "minor faults"
for round in $(seq 1 "$rounds"); do
  for spec in "${environments[@]}"; do
    name=${spec%%=*} settings=${spec#*=}
    assignments=()
    [[ -n $settings ]] && IFS=',' read -r -a assignments <<< "$settings"
    out=$(mktemp) err=$(mktemp)
    env ${assignments[@]+"${assignments[@]}"} "${timer[@]}" dotnet "$dll" --training --training-size "$size" --threads "$threads" \
      --rounds 1 --seconds "$seconds" > "$out" 2> "$err" || true
    usage=$(tail -1 "$err")
    [[ ${#timer[@]} -gt 0 ]] || usage='- - -'
    awk '$1 ~ /^[0-9]+$/ && $2 == "1" { print $1, $3 }' "$out" | while read -r t rate; do
      printf '%-12s %-5s %-7s %-9s %-7s %-7s %s\n' "$name" "$round" "$t" "$rate" $usage
    done
    rm -f "$out" "$err"
  done
done
echo
echo "user/sys seconds and minor page faults are the whole process's (both thread counts, build warm-up included)."
echo "finished $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
