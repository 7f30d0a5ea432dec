#!/usr/bin/env bash
# Fresh machine -> install -> build the embedded demo -> baselines -> score (offline profile) -> leaderboard.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
RS=.venv/bin/rolescape
OUT=${1:-quickstart-out}
mkdir -p "$OUT"
$RS build --source demo --out "$OUT/demo-built" --overwrite
$RS validate "$OUT/demo-built"
for b in reference retrieval shuffled prior; do
  $RS baseline "$b" --data "$OUT/demo-built" --out "$OUT/$b/predictions.jsonl"
  $RS score "$OUT/$b/predictions.jsonl" --data "$OUT/demo-built" --profile offline --name "$b" \
      --out "$OUT/runs/$b" --allow-partial
done
$RS leaderboard "$OUT"/runs/* --format md,html,csv --out "$OUT/leaderboard"
echo
cat "$OUT/leaderboard/leaderboard.md"
