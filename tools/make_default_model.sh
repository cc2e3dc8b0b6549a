#!/usr/bin/env bash
# Reproduces models/default.onnx: the tiny demo model, trained with the project's own commands on
# the synthetic world (seeded). CPU is enough (~30-60 min on 2 cores); a GPU is faster
# (add DEVICE=cuda). Usage: tools/dev run bash tools/make_default_model.sh [WORKDIR]
set -euo pipefail
WORK="${1:-runs/default_model}"
SIZE="${SIZE:-168x224}"          # network input (x14); 4:3 like most cameras
TASK_STEPS="${TASK_STEPS:-600}"
UNC_STEPS="${UNC_STEPS:-600}"
UNC_FLAGS="${UNC_FLAGS:-}"     # e.g. --init-from-teacher
DEVICE="${DEVICE:-auto}"
OUT="${OUT:-models/default.onnx}"
mkdir -p "$WORK"
D="$WORK/data"
if [[ ! -d "$D/source" ]]; then
  uncertainty-seg synth --domain city-day --count 400 --size 240x320 --seed 100 --out "$D/source"
  uncertainty-seg synth --domain city-day --count 40 --size 240x320 --seed 101 --split val \
    --out "$D/val"
  i=0
  for dom in rural night fog snow offroad; do
    uncertainty-seg synth --domain "$dom" --count 80 --size 240x320 --seed $((200 + i)) \
      --out "$D/unlabelled"
    i=$((i + 1))
  done
fi
# Step 2: f_theta on the labelled source domain.
[[ -f "$WORK/f_theta.pt" ]] || uncertainty-seg train task --data "$D/source" --model tiny \
  --size "$SIZE" --steps "$TASK_STEPS" --batch-size 8 --seed 0 --device "$DEVICE" \
  --out "$WORK/f_theta.pt"
# Step 3: f_phi, supervised source loss + L_c on the unlabelled target images (no target labels).
[[ -f "$WORK/f_phi.pt" ]] || uncertainty-seg train uncertainty --teacher "$WORK/f_theta.pt" \
  --data "$D/source" --unlabelled "$D/unlabelled/leftImg8bit" --model tiny --size "$SIZE" \
  --steps "$UNC_STEPS" --batch-size 8 --unlabelled-batch-size 8 --seed 0 --device "$DEVICE" \
  $UNC_FLAGS --out "$WORK/f_phi.pt"
# gamma at MaxF0.5 on the labelled source validation split, then export with metadata.
uncertainty-seg calibrate --model "$WORK/f_phi.pt" --data "$D/val" --out "$WORK/f_phi_cal.pt"
uncertainty-seg export --checkpoint "$WORK/f_phi_cal.pt" --onnx "$OUT" --size "$SIZE"
ls -la "$OUT"
