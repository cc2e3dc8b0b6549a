#!/usr/bin/env bash
# The augmented recipes in the synthetic world, measured on frames no step trained on:
#  - the default model's run (tools/make_default_model.sh, in MODEL_DIR): f_theta, one f_phi on
#    80 unlabelled frames of each of the five target domains, and the control (w_c = 0), with
#    the teacher-margin guard beside them; per domain on the adapted frames (seen) and on 40
#    independent frames (unseen, seeds 400 + i, the test frames of every synthetic study);
#  - the N-curve: one f_phi per domain from N unlabelled frames of that domain alone
#    (N = 100, 400 of a pool rendered with seeds 300 + i) against the same f_theta and control.
# The control never reads a target frame (w_c = 0 skips L_c), so the one control serves every
# row. Records docs/results/synth_augmented.json. Run it before tools/make_default_model.sh
# (same MODEL_DIR), which then ships from these runs.
#
#   tools/dev run bash studies/synth_augmented.sh [WORKDIR] [MODEL_DIR] ["fog:100,400 ..."]
#
# WORKDIR (runs/synth_aug) and MODEL_DIR (runs/default_model) are the paths the rows file names.
# TRAIN_ONLY=1 trains the plan and stops: two plans of different domains can train side by side
# (each run has its own copy of the source views), and a last call without it evaluates every
# row and records.
# Memory: each run's peak is `max_rss_mb` in its train_times.json and in the N-curve's table of
# docs/experiments/unseen.md (from synth_augmented.json). The caches keep at most
# cache_memory_mb each in RAM and spill the rest to a temporary file (train/tensor_store.py).
set -euo pipefail
source "$(dirname "$0")/study_lib.sh"
W="${1:-runs/synth_aug}"
M="${2:-runs/default_model}"
PLAN="${3:-fog:100,400 night:100,400 offroad:100,400}"
INIT="${INIT:-$(find_backbone)}"
SIZE=168x224
D="$W/data"
mkdir -p "$D"
render() {  # DOMAIN COUNT SEED OUT
  [[ -d "$4" ]] || uncertainty-seg synth --domain "$1" --count "$2" --size 240x320 \
    --seed "$3" --out "$4" >/dev/null
}
# The default model's run, with tools/make_default_model.sh's data and training commands (that
# script then calibrates and packs the models it ships; it skips the training done here).
MD="$M/data"
render city-day 400 100 "$MD/source"
[[ -d "$MD/val" ]] || uncertainty-seg synth --domain city-day --count 40 --size 240x320 \
  --seed 101 --split val --out "$MD/val" >/dev/null
if [[ ! -d "$MD/unlabelled" ]]; then
  for i in "${!DOMAINS[@]}"; do
    uncertainty-seg synth --domain "${DOMAINS[$i]}" --count 80 --size 240x320 \
      --seed $((200 + i)) --out "$MD/unlabelled" >/dev/null
  done
fi
SY=(--data "$MD/source" --model vits14 --init "$INIT" --size "$SIZE" --seed 0 --device auto)
model_run() {  # NAME ARGS...: a run of the default model's directory, timed
  local name="$1"; shift
  [[ -f "$M/$name.pt" ]] || python -m studies.timed_train --dir "$M" "$name" -- "$@" \
    --out "$M/$name.pt"
}
model_run f_theta task "${SY[@]}" --feature-cache-file "$M/task_features.pt"
model_run control uncertainty --teacher "$M/f_theta.pt" "${SY[@]}" \
  --unlabelled "$MD/unlabelled/leftImg8bit" --loss-weight 0 \
  --feature-cache-file "$M/task_features.pt"
if [[ ! -f "$M/f_phi.pt" ]]; then
  cp "$M/task_features.pt" "$M/run_features.pt"
  model_run f_phi uncertainty --teacher "$M/f_theta.pt" "${SY[@]}" \
    --unlabelled "$MD/unlabelled/leftImg8bit" --feature-cache-file "$M/run_features.pt"
  rm -f "$M/run_features.pt"
fi
for i in "${!DOMAINS[@]}"; do
  dom="${DOMAINS[$i]}"
  render "$dom" 80 $((200 + i)) "$D/seen/$dom"            # the joint model's adapted frames
  render "$dom" 40 $((400 + $(seed_offset "$dom"))) "$D/unseen/$dom"
done
run_phi() {  # NAME UNLABELLED [FLAGS...]: f_phi on a copy of f_theta's source views
  local name="$1" unlabelled="$2"; shift 2
  [[ -f "$W/$name.pt" ]] && return 0
  cp "$M/task_features.pt" "$W/run_features_$name.pt"
  python -m studies.timed_train --dir "$W" "$name" -- uncertainty --teacher "$M/f_theta.pt" \
    --data "$M/data/source" --unlabelled "$unlabelled" --model vits14 --init "$INIT" \
    --size "$SIZE" --seed 0 --device auto --feature-cache-file "$W/run_features_$name.pt" "$@" \
    --out "$W/$name.pt"
  rm -f "$W/run_features_$name.pt"
}
run_phi guard_joint "$M/data/unlabelled/leftImg8bit" --lc-guard teacher_margin
# The N-curve: the first N frames of each domain's pool.
for item in $PLAN; do
  dom="${item%%:*}"; counts="${item#*:}"; s="$(seed_offset "$dom")"
  max=0; for n in ${counts//,/ }; do (( n > max )) && max=$n; done
  render "$dom" "$max" $((300 + s)) "$D/pool/$dom"
  for n in ${counts//,/ }; do
    # adapt: the first N frames; seen: the first 40 of them, with their labels
    link_subset "$D/pool/$dom" "$D/adapt/$dom-$n" "$n" no
    link_subset "$D/pool/$dom" "$D/seen/$dom-$n" "$(( n < 40 ? n : 40 ))" yes
    run_phi "phi_${dom}_$n" "$D/adapt/$dom-$n"
  done
done
[[ "${TRAIN_ONLY:-0}" == 1 ]] && exit 0
SETS="$(for d in "$D"/unseen/* "$D"/seen/*; do echo "${d#"$D"/}"; done | paste -sd, -)"
ROWS=studies/synth_augmented.rows.yaml
if [[ "$W" != runs/synth_aug || "$M" != runs/default_model ]]; then
  sed -e "s#runs/synth_aug/#$W/#g" -e "s#runs/default_model/#$M/#g" "$ROWS" > "$W/rows.yaml"
  ROWS="$W/rows.yaml"
fi
python -m studies.row_eval eval --rows "$ROWS" --out "$W/eval.json" --data "$D" --sets "$SETS"
TIMES="$W/all_times.json"
python - "$M/train_times.json" "$W/train_times.json" "$TIMES" <<'PY'
import json, sys
from pathlib import Path
merged = {}
for name in sys.argv[1:3]:
    if Path(name).is_file():
        merged.update(json.loads(Path(name).read_text()))
Path(sys.argv[3]).write_text(json.dumps(merged, indent=1))
PY
python -m studies.row_eval record synth_augmented --merge --eval "$W/eval.json" \
  --times "$TIMES" --command "bash studies/synth_augmented.sh $W $M '$PLAN'" \
  --about "the augmented recipes in the synthetic world: the default model's run (f_theta, joint f_phi, control, the guard) per target domain, and one f_phi per domain against N unlabelled frames" \
  --dataset "synthetic world: per domain 40 unseen frames (seeds 400-404) and the adapted frames (seen: 80 a domain for the joint model, the first 40 of N for the N-curve)"
