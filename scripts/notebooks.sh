#!/usr/bin/env bash
# Runs every notebook in samples/Notebooks headlessly with dotnet-repl (pinned in .config/dotnet-tools.json)
# and fails if any cell fails. The notebooks load EfficientViT.ML from the local feed that scripts/pack.sh
# fills. Executed copies go to artifacts/notebooks/executed; with --update they replace the committed
# notebooks instead (to refresh their outputs after a change).
# It also runs tests/Notebooks/failing-cell.ipynb and requires that run to fail, so a broken cell is
# known to fail this script, and tests/Notebooks/conflicting-libtorch.ipynb with another libtorch first on
# the library path (the stand-ins in tests/EfficientViT.ML.Tests/Fixtures/conflicting-libtorch), which must
# still run.
set -euo pipefail
cd "$(dirname "$0")/.."
update=false
[[ "${1:-}" == "--update" ]] && update=true

bash scripts/pack.sh
dotnet tool restore >/dev/null

executed=artifacts/notebooks/executed
mkdir -p "$executed"

# Prints the error outputs an executed notebook holds.
show_errors() {
  python3 - "$1" <<'PY'
import json, sys
notebook = json.load(open(sys.argv[1]))
for index, cell in enumerate(notebook["cells"]):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            print(f"  cell {index}: {output.get('ename', '')}: {output.get('evalue', '')[:2000]}")
PY
}

run() {  # run NOTEBOOK OUTPUT: returns dotnet-repl's exit code (2 when a cell failed)
  local folder notebook output status=0
  folder=$(dirname "$1"); notebook=$(basename "$1"); output=$(realpath -m "$2")
  (cd "$folder" && dotnet repl --run "$notebook" --exit-after-run --output-path "$output" >"$output.log" 2>&1) || status=$?
  return $status
}

failed=0
for notebook in samples/Notebooks/*.ipynb; do
  name=$(basename "$notebook")
  start=$(date +%s)
  if run "$notebook" "$executed/$name"; then
    echo "notebook $name: ok ($(( $(date +%s) - start )) s)"
    if $update; then cp "$executed/$name" "$notebook"; fi
  else
    echo "notebook $name: FAILED ($(( $(date +%s) - start )) s); log: $executed/$name.log"
    [[ -f "$executed/$name" ]] && show_errors "$executed/$name"
    tail -n 20 "$executed/$name.log"
    failed=1
  fi
done

conflicting=$(realpath tests/EfficientViT.ML.Tests/Fixtures/conflicting-libtorch)
if LD_LIBRARY_PATH="$conflicting${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" run tests/Notebooks/conflicting-libtorch.ipynb "$executed/conflicting-libtorch.ipynb"; then
  echo "conflicting-libtorch.ipynb: ok (another libtorch on LD_LIBRARY_PATH did not replace the package's)"
else
  echo "conflicting-libtorch.ipynb: FAILED with another libtorch on LD_LIBRARY_PATH; log: $executed/conflicting-libtorch.ipynb.log"
  [[ -f "$executed/conflicting-libtorch.ipynb" ]] && show_errors "$executed/conflicting-libtorch.ipynb"
  failed=1
fi

if run tests/Notebooks/failing-cell.ipynb "$executed/failing-cell.ipynb"; then
  echo "tests/Notebooks/failing-cell.ipynb ran without error, but its second cell throws: cell failures would go unnoticed"
  failed=1
elif ! grep -q "this cell fails on purpose" "$executed/failing-cell.ipynb"; then
  echo "tests/Notebooks/failing-cell.ipynb failed, but not in the cell that throws; log: $executed/failing-cell.ipynb.log"
  failed=1
else
  echo "failing-cell.ipynb: failed as it must (a cell error fails the run)"
fi
exit $failed
