#!/usr/bin/env bash
# Masked gamma-SSL on CamVid day -> dusk, measured on dusk frames no step trained on: the 62
# labelled dusk/val frames in drive order split into two folds of 31 (uncertainty_seg_node/
# data/folds.py); f_phi and the control (the same command with w_c = 0) adapt on one fold's
# frames and are measured on the other's. f_theta (seed 0, and seeds 1 and 2 for Ensemble-3) is
# the source model on the 305 labelled day/train frames. The recipe of this study is the one
# before augmentation (--no-augment, 8 masks per target image); studies/camvid_augmented.sh is
# the augmented one.
#
#   tools/dev run bash studies/camvid_folds.sh CAMVID [WORKDIR]
#
# CAMVID: the day/ + dusk/ layout (`uncertainty-seg camvid-prepare`); WORKDIR (default runs/s18,
# the path the rows files name) gets folds/, the checkpoints (every 50 steps kept for the
# early-stopping curve), feat_daytrain.pt (the source frames' feature cache) and
# train_times.json. Then it evaluates studies/camvid_folds.rows.yaml and
# studies/camvid_folds_curve.rows.yaml and records docs/results/camvid_folds.json and
# camvid_folds_curve.json. A checkpoint that exists is kept.
set -euo pipefail
source "$(dirname "$0")/study_lib.sh"
C="${1:?CAMVID}"
W="${2:-runs/s18}"
INIT="${INIT:-$(find_backbone)}"
write_folds "$C/dusk/val" "$W/folds"
for s in 0 1 2; do  # f_theta; seeds 1 and 2 are Ensemble-3's other members
  [[ -f "$W/theta_s$s.pt" ]] || python -m studies.timed_train --dir "$W" "theta_s$s" -- task \
    --data "$C/day/train" --classes "$C/classes.yaml" --model vits14 --init "$INIT" \
    --size 168x224 --seed "$s" --no-augment --feature-cache-file "$W/feat_daytrain.pt" \
    --out "$W/theta_s$s.pt"
done
for i in 0 1; do
  for v in phi control; do
    w=1; [[ $v == control ]] && w=0
    [[ -f "$W/${v}_f$i.pt" ]] || python -m studies.timed_train --dir "$W" "${v}_f$i" -- \
      uncertainty --teacher "$W/theta_s0.pt" --data "$C/day/train" --classes "$C/classes.yaml" \
      --unlabelled "$W/folds/fold$i/adapt/images" --model vits14 --init "$INIT" --size 168x224 \
      --loss-weight "$w" --no-augment --mask-bank-size 8 \
      --feature-cache-file "$W/feat_daytrain.pt" \
      --set keep_every=50 \
      --out "$W/${v}_f$i.pt"
  done
done
for name in camvid_folds camvid_folds_curve; do
  sets=dusk/val,day/val; [[ $name == camvid_folds_curve ]] && sets=day/val
  python -m studies.row_eval eval --rows "studies/$name.rows.yaml" --out "$W/eval_$name.json" \
    --data "$C" --sets "$sets" --folds "$W/folds"
  python -m studies.row_eval record "$name" --merge --eval "$W/eval_$name.json" \
    --times "$W/train_times.json" --command "bash studies/camvid_folds.sh CAMVID $W"
done
