#!/usr/bin/env bash
# How many unlabelled target frames Masked gamma-SSL needs, in the synthetic world: for each
# target domain and N unlabelled frames, f_phi (the default recipe) and the control (the same
# recipe with w_c = 0), both measured on 40 independent test frames of the domain (unseen) and on
# up to 40 of the N adapted frames themselves (seen). The teacher is the shipped f_theta.
#
#   tools/dev run bash studies/synth_scaling.sh WORKDIR "fog:30,100,400 night:30,100,400"
#
# Then it evaluates the rows of studies/synth_scaling.rows.yaml (rows of runs it has not made
# are skipped) and records them, merged, into docs/results/synth_scaling.json; the tables in
# docs/experiments/unseen.md come from that file (python -m studies.results tables), the plot
# from python -m studies.results plot-scaling.
set -euo pipefail
source "$(dirname "$0")/study_lib.sh"
WORK="${1:?WORKDIR}"
PLAN="${2:-fog:30,100,400,1600 night:30,100,400 offroad:30,100,400}"
INIT="${INIT:-$(find_backbone)}"
SIZE=168x224
TEST_COUNT=40
SEEN_COUNT=40
D="$WORK/data"
mkdir -p "$D"
# The teacher: the shipped default model f_theta (the default recipe's step 2), as a .pt.
if [[ ! -f "$WORK/theta.pt" ]]; then
  python - "$WORK/theta.pt" <<'EOF'
import sys
from uncertainty_seg_node.export.assemble import build_segmenter_from_delta
from uncertainty_seg_node.model.checkpoint import save_checkpoint
save_checkpoint(sys.argv[1], build_segmenter_from_delta("models/default.delta.safetensors"), None)
EOF
fi
# Its labelled source frames: the ones make_default_model.sh renders (city-day, seed 100).
[[ -d "$D/source" ]] || uncertainty-seg synth --domain city-day --count 400 --size 240x320 \
  --seed 100 --out "$D/source"
for item in $PLAN; do
  dom="${item%%:*}"; counts="${item#*:}"; s="$(seed_offset "$dom")"
  max=0; for n in ${counts//,/ }; do (( n > max )) && max=$n; done
  [[ -d "$D/pool/$dom" ]] && have=$(find "$D/pool/$dom/leftImg8bit" -name '*.png' | wc -l) || have=0
  if (( have < max )); then
    rm -rf "$D/pool/$dom"
    uncertainty-seg synth --domain "$dom" --count "$max" --size 240x320 --seed $((300 + s)) \
      --out "$D/pool/$dom"
  fi
  [[ -d "$D/test/$dom" ]] || uncertainty-seg synth --domain "$dom" --count "$TEST_COUNT" \
    --size 240x320 --seed $((400 + s)) --out "$D/test/$dom"
  for n in ${counts//,/ }; do
    link_subset "$D/pool/$dom" "$D/adapt/$dom-$n" "$n" no
    link_subset "$D/pool/$dom" "$D/seen/$dom-$n" "$(( n < SEEN_COUNT ? n : SEEN_COUNT ))" yes
    for variant in control phi; do  # a control first: it writes the source-only cache
      out="$WORK/${variant}_${dom}_$n.pt"
      [[ -f "$out" ]] && continue
      weight=1; [[ "$variant" == control ]] && weight=0
      # Each run uses a private copy of the source features: its target and masked entries
      # (up to GBs) are not kept.
      cache="$WORK/features_source.pt"
      if [[ -f "$cache" ]]; then cp "$cache" "$WORK/features_run.pt"; cache="$WORK/features_run.pt"; fi
      python -m studies.timed_train --dir "$WORK" "${variant}_${dom}_$n" -- uncertainty \
        --teacher "$WORK/theta.pt" --data "$D/source" --unlabelled "$D/adapt/$dom-$n" \
        --model vits14 --init "$INIT" --size "$SIZE" --loss-weight "$weight" \
        --feature-cache-file "$cache" --set keep_every=100 --out "$out"
      rm -f "$WORK/features_run.pt"
    done
  done
done
# Every test and seen set made so far; rows whose sets or checkpoints are missing are skipped.
SETS="$(for d in "$D"/test/* "$D"/seen/*; do echo "${d#"$D"/}"; done | paste -sd, -)"
python -m studies.row_eval eval --rows studies/synth_scaling.rows.yaml --out "$WORK/eval.json" \
  --data "$D" --sets "$SETS"
python -m studies.row_eval record synth_scaling --merge --eval "$WORK/eval.json" \
  --times "$WORK/train_times.json" --command "bash studies/synth_scaling.sh $WORK '$PLAN'"
