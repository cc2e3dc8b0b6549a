#!/usr/bin/env bash
# Masked gamma-SSL on a real off-road drive: CamVid day/train is the labelled source, the YCOR
# drive (../shared/data/ycor, or `uncertainty-seg ycor-prepare`) the target, read as images only.
# The drive is split into two contiguous stretches (data/folds.py): each fold's f_phi adapts on
# one stretch and is measured on the other (unseen) and on its own (seen), beside the augmented
# f_theta, the control (w_c = 0), an ensemble of the two f_theta seeds and MC dropout, two seeds,
# and day/val (what adapting costs the source). The N-curve adapts seed 0 on 100 frames (every
# 4th of the stretch's first 400), 400 (its first 400) and all of a stretch (466 or 465). The
# planner's figure: each model with gamma calibrated on day/val (MaxF0.5), per class on the
# unseen stretch: what it is called, its certain share and the precision there.
#
#   tools/dev run bash studies/ycor_offroad.sh CAMVID YCOR [WORKDIR]
#
# CAMVID: the day/ + dusk/ layout; YCOR: the folder holding offroad/train; WORKDIR (default
# runs/ycor, the path the rows file names; another gets its own copy) gets folds/, the
# checkpoints (names as in studies/camvid_augmented.sh: theta_s0, control_s0, phi_f0_s0,
# phi_f0_s0_n100, ...; one that exists is kept), feat_day.pt, train_times.json (each run's wall,
# CPU and peak memory, studies/timed_train.py), cal/ (the day/val-calibrated models) and
# classes/ (the per-class figures). Records docs/results/ycor_offroad.json and ycor_classes.json.
#
# Knobs (environment): STEPS_TASK, STEPS_UNC (default: the recipes'), MODEL (vits14; tiny for a
# plumbing run: no --init, E* and a view bank of 2), SIZE (168x224), SEEDS ("0 1"), N_CURVE
# ("100 400"), RECORD (1; 0 writes no result file), ALLOW_DIRTY (0; 1 records from a dirty tree).
set -euo pipefail
source "$(dirname "$0")/study_lib.sh"
C="${1:?CAMVID}"
Y="${2:?YCOR}"
W="${3:-runs/ycor}"
MODEL="${MODEL:-vits14}"
SIZE="${SIZE:-168x224}"
SEEDS="${SEEDS:-0 1}"
N_CURVE="${N_CURVE:-100 400}"
RECORD="${RECORD:-1}"
DIRTY=(); [[ "${ALLOW_DIRTY:-0}" == 1 ]] && DIRTY=(--allow-dirty)
MODEL_FLAGS=(--view-bank-size 2 --freeze-encoder)  # tiny: as the vits14 recipe caches
if [[ "$MODEL" != tiny ]]; then
  INIT="${INIT:-$(find_backbone)}"
  MODEL_FLAGS=(--init "$INIT")
fi
STEPS_T=(); [[ -n "${STEPS_TASK:-}" ]] && STEPS_T=(--steps "$STEPS_TASK")
STEPS_U=(); [[ -n "${STEPS_UNC:-}" ]] && STEPS_U=(--steps "$STEPS_UNC")
mkdir -p "$W"
write_folds "$Y/offroad/train" "$W/folds"
# The folds' labels are CamVid ids: class_breakdown finds this class map above them.
[[ -f "$W/classes.yaml" ]] || cp "$C/classes.yaml" "$W/classes.yaml"
COMMON=(--data "$C/day/train" --classes "$C/classes.yaml" --model "$MODEL" "${MODEL_FLAGS[@]}"
        --size "$SIZE")
train() {  # NAME ARGS...: one timed run, skipped when its checkpoint exists
  local name="$1"; shift
  [[ -f "$W/$name.pt" ]] || python -m studies.timed_train --dir "$W" "$name" -- "$@" \
    --out "$W/$name.pt"
}
phi() {  # NAME FOLD SEED [ARGS...]: f_phi adapted on a fold's stretch (images only)
  local name="$1" f="$2" s="$3"; shift 3
  train "$name" uncertainty "${COMMON[@]}" "${STEPS_U[@]}" --teacher "$W/theta_s$s.pt" \
    --unlabelled "$W/folds/fold$f/adapt/images" --seed "$s" \
    --feature-cache-file "$W/feat_day.pt" "$@"
}
seed_runs() {  # SEED: f_theta, the control (one for both folds: w_c = 0 reads no target frame)
  local s="$1" f
  train "theta_s$s" task "${COMMON[@]}" "${STEPS_T[@]}" --seed "$s" \
    --feature-cache-file "$W/feat_day.pt"
  phi "control_s$s" 0 "$s" --loss-weight 0
  for f in 0 1; do phi "phi_f${f}_s$s" "$f" "$s"; done
}
n_curve() {  # seed 0 on fewer frames of each stretch: every 4th of the first 400, the first 400
  local n f stride
  for n in $N_CURVE; do
    stride=1; (( n < 400 )) && stride=$(( 400 / n ))
    for f in 0 1; do
      phi "phi_f${f}_s0_n$n" "$f" 0 --unlabelled-stride "$stride" --unlabelled-max-frames "$n"
    done
  done
}
read -r -a SEED_LIST <<< "$SEEDS"
# Seed 0 and its N-curve first: a run cut short still holds one whole comparison.
seed_runs "${SEED_LIST[0]}"
n_curve
for s in "${SEED_LIST[@]:1}"; do seed_runs "$s"; done
ROWS=studies/ycor_offroad.rows.yaml
if [[ "$W" != runs/ycor ]]; then
  sed "s#runs/ycor/#$W/#g" "$ROWS" > "$W/rows.yaml"; ROWS="$W/rows.yaml"
fi
python -m studies.row_eval eval --rows "$ROWS" --out "$W/eval_ycor_offroad.json" --data "$C" \
  --sets day/val --folds "$W/folds"
# The planner's figure: gamma at MaxF0.5 on day/val, then per class on each unseen stretch.
mkdir -p "$W/cal" "$W/classes"
breakdown() {  # ROW LABEL MODEL FOLD
  local row="$1" label="$2" model="$3" f="$4"
  [[ -f "$W/cal/$model.pt" ]] || uncertainty-seg calibrate --model "$W/$model.pt" \
    --data "$C/day/val" --classes "$C/classes.yaml" --out "$W/cal/$model.pt" \
    --json "$W/cal/$model.json" >/dev/null
  local measure=(python -m studies.class_breakdown --model "$W/cal/$model.pt"
                 --data "$W/folds/fold$f/unseen" --json "$W/classes/$row.json")
  if [[ "$RECORD" == 1 ]]; then  # runs the measurement and records what it wrote
    python -m studies.results run ycor_classes --row "$row" --label "$label" "${DIRTY[@]}" \
      --checkpoint "$W/cal/$model.pt" --figures-from "$W/classes/$row.json" \
      --about "Per real off-road class on the YCOR stretch each model never adapted to: what it is called, its share in the certain mask at gamma calibrated on CamVid day/val (MaxF0.5), and that mask's precision" \
      --dataset "YCOR (Yamaha-CMU Off-Road) train split, 931 frames in two contiguous stretches; labels mapped to CamVid's 11 classes" \
      -- "${measure[@]}"
  elif [[ ! -f "$W/classes/$row.json" ]]; then
    "${measure[@]}" >/dev/null
  fi
}
for s in "${SEED_LIST[@]}"; do
  for f in 0 1; do
    breakdown "theta_s${s}_f$f" "f_θ, seed $s, on stretch $((1 - f))" "theta_s$s" "$f"
    breakdown "control_s${s}_f$f" "control, seed $s, on stretch $((1 - f))" "control_s$s" "$f"
    breakdown "phi_s${s}_f$f" "f_φ adapted on stretch $f, seed $s, on stretch $((1 - f))" \
      "phi_f${f}_s$s" "$f"
  done
done
if [[ "$RECORD" == 1 ]]; then
  python -m studies.row_eval record ycor_offroad --merge "${DIRTY[@]}" \
    --eval "$W/eval_ycor_offroad.json" --times "$W/train_times.json" \
    --command "bash studies/ycor_offroad.sh CAMVID YCOR $W" \
    --about "Masked gamma-SSL from CamVid day (source) to a real off-road drive (YCOR), augmented recipes, two seeds, on the stretch of the drive each fold's f_phi never adapted to, with the N-curve and the paper's baselines" \
    --dataset "CamVid day/train 305 labelled frames (source), day/val 101; YCOR train split 931 frames (images only for training) in two contiguous stretches of 466 and 465"
fi
