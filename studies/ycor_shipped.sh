#!/usr/bin/env bash
# The shipped models (trained on the synthetic world only: models/MODEL_CARD.md) on a real
# off-road drive: every labelled frame of the YCOR folder, with the labels the 19-class models
# can be compared with (the dataset's own ids through studies/ycor_cityscapes.yaml: trail road
# and terrain, grass terrain, vegetation, sky). What a user who starts the node off-road with the
# default model gets: the paper's figures, and the certain mask's share and precision per class
# at the model's own gamma.
#
#   tools/dev run bash studies/ycor_shipped.sh YCOR [WORKDIR]
#
# YCOR: the folder holding offroad/train (../shared/data/ycor, or `uncertainty-seg ycor-prepare`);
# WORKDIR (default runs/ycor_shipped) gets frames/ (links: images/, labels/ -> labels_ycor/).
# Records docs/results/ycor_shipped.json (evaluate, ONNX Runtime fp32) and
# docs/results/ycor_shipped_classes.json (studies/class_breakdown.py). ALLOW_DIRTY=1 records from
# a tree with uncommitted changes.
set -euo pipefail
Y="${1:?YCOR}"
W="${2:-runs/ycor_shipped}"
DIRTY=(); [[ "${ALLOW_DIRTY:-0}" == 1 ]] && DIRTY=(--allow-dirty)
F="$W/frames"
mkdir -p "$F"
ln -sfn "$(realpath "$Y/offroad/train/images")" "$F/images"
ln -sfn "$(realpath "$Y/offroad/train/labels_ycor")" "$F/labels"
MAP=studies/ycor_cityscapes.yaml
DATASET="YCOR (Yamaha-CMU Off-Road), offroad/train: 931 labelled frames of a real off-road drive, the dataset's own ids mapped to Cityscapes train ids by studies/ycor_cityscapes.yaml"
for m in default compare; do
  python -m studies.results run ycor_shipped --row "$m" --label "models/$m" "${DIRTY[@]}" \
    --checkpoint "models/$m.delta.safetensors" \
    --about "The shipped models (synthetic world only) on every labelled frame of a real off-road drive" \
    --dataset "$DATASET" \
    -- python -m uncertainty_seg_node evaluate --model "models/$m.delta.safetensors" --data "$F" \
    --classes "$MAP" --backend onnxruntime --json '{json}' --no-progress
  python -m studies.results run ycor_shipped_classes --row "$m" --label "models/$m" "${DIRTY[@]}" \
    --checkpoint "models/$m.delta.safetensors" \
    --about "Per class on a real off-road drive: what the shipped models call it, its share in the certain mask at the model's gamma, and that mask's precision" \
    --dataset "$DATASET" \
    -- python -m studies.class_breakdown --model "models/$m.delta.safetensors" --data "$F" \
    --classes "$MAP" --backend onnxruntime --json '{json}'
done
