#!/usr/bin/env bash
# Regenerate the baseline records of leaderboards/synth with the commands their provenance
# records (`posebench run ... --out` then `posebench eval ... --out`), then the tables.
#
#   leaderboards/synth/regenerate.sh            # cheap rows only (mean pose, NN, oracles: ~1 min)
#   ALL=1 leaderboards/synth/regenerate.sh      # also the SimpleBaseline rows (~20 min CPU, 2 cores)
#
# POSEBENCH selects the command (default `posebench`; from a checkout without installing:
# POSEBENCH="python -m posebench.cli" with PYTHONPATH set to the checkout). Predictions are
# written to a scratch folder and referenced by relative names, so no machine path reaches
# the records. The EpipolarPose rows come from
#   posebench reproduce epipolarpose --profile cpu --dataset synth --device cpu --out runs/cpu
# (24 min on 2 cores): copy runs/cpu/results/epipolarpose-cpu-*.json and their *.samples.npz
# here (all but mean-pose).
# `posebench leaderboard reproduce` (site helper) will replace this script.
set -euo pipefail
BOARD="$(cd "$(dirname "$0")" && pwd)"
PB=${POSEBENCH:-posebench}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

row() {  # row RECORD_NAME LABEL METHOD [--option k=v ...]
  local name=$1 label=$2 method=$3
  shift 3
  $PB run "$method" --dataset synth --protocol synth --train-split train --seed 0 "$@" \
    --label "$label" --out "$name.npz"
  $PB eval "$name.npz" --dataset synth --protocol synth --per-joint --out "$name.json" >/dev/null
  cp "$name.json" "$name.samples.npz" "$BOARD/"
}

row mean-pose "mean-pose" mean-pose
row nearest-neighbour "nearest-neighbour" nearest-neighbour
row triangulation-oracle "triangulation-oracle (GT 2D, known cameras)" triangulation-oracle \
  --option noise_px=0.0
row triangulation-oracle-noise2px "triangulation-oracle (GT 2D + 2 px noise)" \
  triangulation-oracle --option noise_px=2.0
if [[ "${ALL:-0}" == "1" ]]; then
  row simple-baseline-gt2d "simple-baseline (GT 2D)" simple-baseline --option inputs=gt
  row simple-baseline-epipolarpose2d "simple-baseline (EpipolarPose 2D branch, 400-step detector)" \
    simple-baseline --option inputs=epipolarpose --option profile=cpu --option max_steps=400
fi
$PB leaderboard build "$BOARD"
