#!/usr/bin/env bash
# Masked gamma-SSL on CamVid day -> dusk with the augmented recipes: f_theta, the control (w_c = 0)
# and f_phi all trained on view-bank views (zoom, crop, flip, photometric distortion), two seeds,
# measured on the dusk frames each fold's f_phi never adapted to (the two temporal folds of
# studies/camvid_folds.sh), beside the un-augmented f_theta users had before, and the
# teacher-margin guard on L_c (seed 0).
#
#   tools/dev run bash studies/camvid_augmented.sh CAMVID [WORKDIR]
#
# CAMVID: the day/ + dusk/ layout; WORKDIR (default runs/aug, the path the rows file names) gets
# folds/, the checkpoints, feat_day.pt (the view bank's and the dusk views' feature cache) and
# train_times.json. The control never reads a target frame (w_c = 0 skips L_c), so one control
# per seed serves both folds. Then it evaluates studies/camvid_augmented.rows.yaml and records
# docs/results/camvid_augmented.json. A checkpoint that exists is kept.
set -euo pipefail
source "$(dirname "$0")/study_lib.sh"
C="${1:?CAMVID}"
W="${2:-runs/aug}"
INIT="${INIT:-$(find_backbone)}"
write_folds "$C/dusk/val" "$W/folds"
COMMON=(--data "$C/day/train" --classes "$C/classes.yaml" --model vits14 --init "$INIT"
        --size 168x224)
train() {  # NAME ARGS...: one timed run, skipped when its checkpoint exists
  local name="$1"; shift
  [[ -f "$W/$name.pt" ]] || python -m studies.timed_train --dir "$W" "$name" -- "$@" \
    --out "$W/$name.pt"
}
seed_runs() {  # SEED: f_theta, the control and f_phi per fold
  local s="$1" f
  train "theta_s$s" task "${COMMON[@]}" --seed "$s" --feature-cache-file "$W/feat_day.pt"
  train "control_s$s" uncertainty "${COMMON[@]}" --teacher "$W/theta_s$s.pt" \
    --unlabelled "$W/folds/fold0/adapt/images" --seed "$s" --loss-weight 0 \
    --feature-cache-file "$W/feat_day.pt"
  for f in 0 1; do
    train "phi_f${f}_s$s" uncertainty "${COMMON[@]}" --teacher "$W/theta_s$s.pt" \
      --unlabelled "$W/folds/fold$f/adapt/images" --seed "$s" \
      --feature-cache-file "$W/feat_day.pt"
  done
}
# Seed 0, the f_theta users had before (the same recipe without augmentation) and the guard
# first: a run cut short still holds one whole comparison.
seed_runs 0
train theta_noaug task "${COMMON[@]}" --seed 0 --no-augment \
  --feature-cache-file "$W/feat_day_noaug.pt"
for f in 0 1; do
  train "guard_f${f}_s0" uncertainty "${COMMON[@]}" --teacher "$W/theta_s0.pt" \
    --unlabelled "$W/folds/fold$f/adapt/images" --seed 0 --lc-guard teacher_margin \
    --feature-cache-file "$W/feat_day.pt"
done
seed_runs 1
python -m studies.row_eval eval --rows studies/camvid_augmented.rows.yaml \
  --out "$W/eval_camvid_augmented.json" --data "$C" --sets dusk/val,day/val --folds "$W/folds"
python -m studies.row_eval record camvid_augmented --merge \
  --eval "$W/eval_camvid_augmented.json" --times "$W/train_times.json" \
  --command "bash studies/camvid_augmented.sh CAMVID $W" \
  --about "Masked gamma-SSL on CamVid day to dusk with the augmented recipes (view bank), two seeds, on dusk frames each fold's f_phi never adapted to" \
  --dataset "CamVid: day/train 305 labelled frames (source), day/val 101, dusk/val 62 frames in two temporal folds of 31"
