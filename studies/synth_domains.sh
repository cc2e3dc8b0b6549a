#!/usr/bin/env bash
# The shipped models per synthetic target domain, on the frames f_phi adapted to (seen) and on
# independent frames of the same domain (unseen), beside the control (the f_phi recipe with
# w_c = 0) and Ensemble-3 (f_theta seeds 0, 1, 2). Reproduces the data of
# tools/make_default_model.sh (same seeds), so the seen frames are exactly the adapted ones.
#
#   tools/dev run bash studies/synth_domains.sh [WORKDIR]
#
# Then it evaluates the rows of studies/synth_domains.rows.yaml and records them in
# docs/results/synth_domains.json. The rows file names WORKDIR as runs/synth_domains; the teacher
# f_theta (seed 0) is the shipped default model (models/default.delta.safetensors), f_phi the
# shipped compare model.
set -euo pipefail
source "$(dirname "$0")/study_lib.sh"
WORK="${1:-runs/synth_domains}"
INIT="${INIT:-$(find_backbone)}"
SIZE=168x224
D="$WORK/data"
mkdir -p "$D"
# The shipped models as checkpoints (fp16 decoders, as shipped).
for pair in theta_s0:default phi:compare; do
  name="${pair%%:*}"; file="${pair#*:}"
  [[ -f "$WORK/$name.pt" ]] || python - "$WORK/$name.pt" "models/$file.delta.safetensors" <<'PY'
import sys
from uncertainty_seg_node.export.assemble import build_segmenter_from_delta
from uncertainty_seg_node.model.checkpoint import save_checkpoint
save_checkpoint(sys.argv[1], build_segmenter_from_delta(sys.argv[2]), None)
PY
done
[[ -d "$D/source" ]] || uncertainty-seg synth --domain city-day --count 400 --size 240x320 \
  --seed 100 --out "$D/source"
for i in "${!DOMAINS[@]}"; do
  dom="${DOMAINS[$i]}"
  # seen: the very frames f_phi adapted to (make_default_model.sh: 80 a domain, seed 200 + i)
  [[ -d "$D/seen/$dom" ]] || uncertainty-seg synth --domain "$dom" --count 80 --size 240x320 \
    --seed $((200 + i)) --out "$D/seen/$dom"
  # unseen: 40 independent frames (the seeds of every synthetic study's test sets)
  [[ -d "$D/unseen/$dom" ]] || uncertainty-seg synth --domain "$dom" --count 40 --size 240x320 \
    --seed $((400 + $(seed_offset "$dom"))) --out "$D/unseen/$dom"
done
# All adapted frames in one folder, as make_default_model.sh trained on them (images only).
pool_images "$D/unlabelled" "${DOMAINS[@]/#/$D/seen/}"
# The control: the f_phi recipe with w_c = 0 (same teacher, data and seed).
[[ -f "$WORK/control.pt" ]] || python -m studies.timed_train --dir "$WORK" control -- \
  uncertainty --teacher "$WORK/theta_s0.pt" --data "$D/source" --unlabelled "$D/unlabelled" \
  --model vits14 --init "$INIT" --size "$SIZE" --seed 0 --loss-weight 0 \
  --feature-cache-file "$WORK/features_control.pt" --out "$WORK/control.pt"
# Ensemble members: f_theta seeds 1 and 2 with make_default_model.sh's f_theta command.
for s in 1 2; do
  [[ -f "$WORK/theta_s$s.pt" ]] || python -m studies.timed_train --dir "$WORK" "theta_s$s" -- \
    task --data "$D/source" --model vits14 --init "$INIT" --size "$SIZE" --seed "$s" \
    --feature-cache-file "$WORK/features_task.pt" --out "$WORK/theta_s$s.pt"
done
SETS="$(for dom in "${DOMAINS[@]}"; do echo "seen/$dom,unseen/$dom"; done | paste -sd, -)"
python -m studies.row_eval eval --rows studies/synth_domains.rows.yaml --out "$WORK/eval.json" \
  --data "$D" --sets "$SETS"
python -m studies.row_eval record synth_domains --eval "$WORK/eval.json" \
  --times "$WORK/train_times.json" --command "bash studies/synth_domains.sh $WORK"
