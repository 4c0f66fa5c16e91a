#!/usr/bin/env bash
# The lean install (issue 15): a fresh venv, `pip install .` of this tree, its size, the packages it
# holds (none of torch, sentence-transformers, transformers, pytest, playwright, schemathesis), and,
# given a built gazette index, `qa serve` from that venv: resident memory after 50 /v1/ask calls.
#
#   bash bench/bench_lean_install.sh [VENV=/tmp/gazette-lean] [INDEX]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${1:-/tmp/gazette-lean}
INDEX=${2:-}
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
start=$(date +%s)
"$VENV/bin/pip" install --quiet "$ROOT"
echo "pip install . took $(( $(date +%s) - start )) s (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "venv: $(du -sh "$VENV" | cut -f1); site-packages: $(du -sh "$site" | cut -f1); packages: $("$VENV/bin/pip" list --format=freeze | wc -l)"
echo "largest:"; du -s "$site"/* | sort -rn | head -8 | awk '{printf "  %6.1f MB  %s\n", $1/1024, $2}' | sed "s|$site/||"
heavy=$("$VENV/bin/pip" list --format=freeze | grep -i -E '^(torch|sentence-transformers|transformers|pytest|playwright|schemathesis)==' || true)
if [ -n "$heavy" ]; then echo "NOT LEAN: $heavy"; exit 1; fi
echo "none of torch, sentence-transformers, transformers, pytest, playwright, schemathesis"
if [ -n "$INDEX" ]; then
    "${PYTHON:-python3}" "$ROOT/bench/bench_memory.py" --index "$INDEX" --python "$VENV/bin/python" --skip stages,components
fi
