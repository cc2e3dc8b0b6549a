#!/usr/bin/env bash
# The levers on the CamVid temporal folds: f_phi trained per fold with ONE change
# from the un-augmented recipe of docs/results/camvid_folds.json each (the recipe before the view
# bank: --no-augment, 8 masks per image), against its f_phi and its w_c = 0 control.
#
#   tools/dev run bash studies/camvid_levers.sh CAMVID STUDY_DIR WORKDIR [LEVER ...]
#
# CAMVID: the day/ + dusk/ layout (`uncertainty-seg camvid-prepare`); STUDY_DIR: the fold
# study's directory (studies/camvid_folds.sh: its folds/ and theta_s0.pt, and
# feat_daytrain.pt, the 305 source frames' feature cache); WORKDIR gets LEVER_f0.pt and
# LEVER_f1.pt per lever and train_times.json. LEVERs (default: all, in this order):
#   zerotoken  --mask-token zero                    (the paper's literal masked input)
#   randdec    --no-init-decoder-from-teacher       (the paper's random decoder)
#   seed1      --seed 1                             (the default recipe again: seed noise)
#   unmasked   --set certainty_from=unmasked        (the paper's text)
#   blocks2    --train-blocks 2                     (the top 2 encoder blocks train)
#   blocks4    --train-blocks 4                     (the top 4)
#   blocksall  --train-blocks 12                    (the whole encoder, as the paper; slow)
#   lowlr      --lr 1e-4                            (a third of the recipe's learning rate)
# Then it evaluates the rows of studies/camvid_levers.rows.yaml on the folds and records them,
# merged, in docs/results/camvid_levers.json.
set -euo pipefail
source "$(dirname "$0")/study_lib.sh"
C="${1:?CAMVID}"
S="${2:?STUDY_DIR}"
W="${3:?WORKDIR}"
shift 3
LEVERS=("$@")
[[ ${#LEVERS[@]} -gt 0 ]] || LEVERS=(zerotoken randdec seed1 unmasked blocks2 blocks4 blocksall lowlr)
INIT="${INIT:-$(find_backbone)}"
flags_of() {
  case "$1" in
    zerotoken) echo "--mask-token zero" ;;
    randdec) echo "--no-init-decoder-from-teacher" ;;
    seed1) echo "--seed 1" ;;
    unmasked) echo "--set certainty_from=unmasked" ;;
    blocks2) echo "--train-blocks 2" ;;
    blocks4) echo "--train-blocks 4" ;;
    blocksall) echo "--train-blocks 12" ;;
    lowlr) echo "--lr 1e-4" ;;
    *) echo "unknown lever $1" >&2; exit 2 ;;
  esac
}
mkdir -p "$W"
for lever in "${LEVERS[@]}"; do
  read -r -a flags <<< "$(flags_of "$lever")"
  for f in 0 1; do
    out="$W/${lever}_f$f.pt"
    [[ -f "$out" ]] && continue
    # a private copy of the source features: the run's target and masked entries are not kept
    cp "$S/feat_daytrain.pt" "$W/cache_run.pt"
    python -m studies.timed_train --dir "$W" "${lever}_f$f" -- uncertainty \
      --teacher "$S/theta_s0.pt" --data "$C/day/train" --classes "$C/classes.yaml" \
      --unlabelled "$S/folds/fold$f/adapt/images" --model vits14 --init "$INIT" \
      --size 168x224 --no-augment --mask-bank-size 8 --feature-cache-file "$W/cache_run.pt" \
      --out "$out" "${flags[@]}"
    rm -f "$W/cache_run.pt"
  done
done
python -m studies.row_eval eval --rows studies/camvid_levers.rows.yaml --out "$W/eval_levers.json" \
  --data "$C" --sets dusk/val,day/val --folds "$S/folds"
python -m studies.row_eval record camvid_levers --merge --eval "$W/eval_levers.json" \
  --times "$W/train_times.json" --command "bash studies/camvid_levers.sh CAMVID $S $W ${LEVERS[*]}"
