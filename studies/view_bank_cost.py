"""What the view bank costs: its size and build time against K, and a training step with it.

    python -m studies.view_bank_cost --data DAY/train --classes C.yaml --unlabelled DUSK \
        --init BACKBONE.onnx [--images 32] [--ks 1,2,4,8] [--record]

For each K the bank of `--images` labelled source images and as many target images (each target
view with its `--mask-bank-size` masks, as `train uncertainty` pairs them) is built into an empty
feature cache through the frozen ViT-S/14, timed (wall and CPU), and sized (entries, MB). Then
one supervised step (forward and backward of the whole network on a batch of 8) is timed three
ways, interleaved: un-augmented images answered by the cache (the old recipe), bank views
answered by the cache (the augmented recipe), and fresh random views (augmentation without a
bank: every step runs the encoder). `--record` writes docs/results/view_bank_cost.json.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from uncertainty_seg_node.data import EvalTransform, open_labelled, open_unlabelled
from uncertainty_seg_node.data.sample import sample_key
from uncertainty_seg_node.data.transforms import to_tensor_batch
from uncertainty_seg_node.data.view_bank import ViewBank
from uncertainty_seg_node.losses.supervised import supervised_loss
from uncertainty_seg_node.model.segmenter import Segmenter
from uncertainty_seg_node.train import TrainConfig, common
from uncertainty_seg_node.train.feature_cache import FeatureCache, FrozenLower
from uncertainty_seg_node.train.mask_bank import bank_mask

BATCH = 8


def _network(args: argparse.Namespace, dataset: Any) -> tuple[Segmenter, TrainConfig]:
    config = TrainConfig(model="vits14", init=args.init, size=args.size, augment=True,
                         photometric=True, view_bank_size=1, freeze_encoder=True)
    model = common.build_student(common.student_config(config, dataset), config)
    common.set_trainable_encoder(model, config)  # E*, split after the last block
    return model, config


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - start[0], time.process_time() - start[1]


def build_bank(model: Segmenter, source: Any, target: Any, transform: Any, k: int, images: int,
               masks_per_view: int) -> dict[str, Any]:
    """Every view (and each target view's masks) of a K-view bank, into an empty cache."""
    cache = FeatureCache(cache_masked=True, memory_mb=float("inf"))  # all of it, to be sized
    lower = FrozenLower(model.encoder, cache)
    cfg = model.config
    grid = (cfg.input_size[0] // cfg.patch_size) * (cfg.input_size[1] // cfg.patch_size)
    start = _clock()
    with torch.no_grad():
        for stream, data in ((0, source), (1, target)):
            bank = ViewBank(k, seed=0, stream=stream)
            pairs = list(bank.all_views(min(images, len(data))))
            for first in range(0, len(pairs), BATCH):
                views, keys = [], []
                for index, view in pairs[first:first + BATCH]:
                    item = data[index]
                    rng = bank.generator(index, view)
                    views.append(transform.image(item, rng) if stream == 1
                                 else transform(item, rng)[0])
                    keys.append(sample_key(f"k{k}s{stream}", "", index, view))
                x = to_tensor_batch(views, cfg)
                lower(x, keys)
                if stream == 1:
                    for m in range(masks_per_view):
                        mask = torch.stack([bank_mask(key, m, 0, 0.5, grid) for key in keys])
                        lower(x, keys, mask, [f"mask{m}"] * len(keys))
    wall, cpu = _since(start)
    nbytes = cache.store.bytes_in_memory + cache.store.bytes_on_disk
    source_views = min(images, len(source)) * k
    target_views = min(images, len(target)) * k
    return {"k": k, "source_views": source_views, "target_views": target_views,
            "entries": len(cache), "megabytes": round(nbytes / 2**20, 1),
            "megabytes_per_view": round(nbytes / 2**20 / max(len(cache), 1), 3),
            "build_wall_s": round(wall, 1), "build_cpu_s": round(cpu, 1),
            "build_ms_per_entry": round(1000 * wall / max(len(cache), 1), 1)}


def _step(model: Segmenter, lower: FrozenLower, x: torch.Tensor, y: torch.Tensor,
          keys: list[str | None]) -> None:
    model.zero_grad(set_to_none=True)
    supervised_loss(model(x, None, lower_states=lower(x, keys)), y).backward()


def step_costs(model: Segmenter, source: Any, transform: Any, repeats: int) -> dict[str, Any]:
    """Median seconds of one supervised step (batch 8): cached plain, cached bank, fresh views."""
    cfg = model.config
    plain = EvalTransform(cfg)
    indices = list(range(BATCH))
    bank = ViewBank(1, seed=0)

    def batch(kind: str, rep: int) -> tuple[torch.Tensor, torch.Tensor, list[str | None]]:
        images, labels = [], []
        keys: list[str | None] = [sample_key(kind, "", i, 0) if kind != "fresh" else None
                                  for i in indices]
        for i in indices:
            item = source[i]
            if kind == "plain":
                image, label = plain(item)
            elif kind == "bank":
                image, label = transform(item, bank.generator(i, 0))
            else:
                image, label = transform(item, np.random.default_rng([rep, i, 99]))
            images.append(image)
            labels.append(label)
        return (to_tensor_batch(images, cfg),
                torch.from_numpy(np.stack(labels).astype(np.int64)), keys)

    lower = FrozenLower(model.encoder, FeatureCache())
    times: dict[str, list[float]] = {"plain": [], "bank": [], "fresh": []}
    model.train()
    for kind in ("plain", "bank"):  # warm the cache: the bank is built before training
        _step(model, lower, *batch(kind, -1))
    for rep in range(repeats):  # interleaved, so a change of load hits all three alike
        for kind in times:
            x, y, keys = batch(kind, rep)
            start = time.perf_counter()
            _step(model, lower, x, y, keys)
            times[kind].append(time.perf_counter() - start)
    median = {kind: float(np.median(values)) for kind, values in times.items()}
    return {"repeats": repeats, "batch": BATCH,
            **{f"step_s_{kind}": round(value, 3) for kind, value in median.items()},
            "ratio_bank_over_plain": round(median["bank"] / median["plain"], 2),
            "ratio_fresh_over_bank": round(median["fresh"] / median["bank"], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="labelled source folder")
    parser.add_argument("--classes", help="class-map YAML of --data")
    parser.add_argument("--unlabelled", required=True, help="target images")
    parser.add_argument("--init", required=True, help="the ViT-S/14 backbone file")
    parser.add_argument("--size", default="168x224")
    parser.add_argument("--images", type=int, default=32, help="images per data set")
    parser.add_argument("--ks", default="1,2,4,8")
    parser.add_argument("--mask-bank-size", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--record", action="store_true",
                        help="write docs/results/view_bank_cost.json")
    args = parser.parse_args(argv)
    args.size = tuple(int(v) for v in args.size.split("x"))
    source = open_labelled(args.data, classes_yaml=args.classes)
    target = open_unlabelled(args.unlabelled)
    model, config = _network(args, source)
    transform = common.sample_transform(model.config, config)
    load_before = os.getloadavg()
    rows: dict[str, dict[str, Any]] = {}
    for k in (int(v) for v in args.ks.split(",")):
        figures = build_bank(model, source, target, transform, k, args.images,
                             args.mask_bank_size)
        print(figures, flush=True)
        rows[f"build_k{k}"] = {"label": f"bank of K = {k} views", "command": "cost",
                               "checkpoints": [], "metrics": figures}
    steps = step_costs(model, source, transform, args.repeats)
    print(steps, flush=True)
    rows["step"] = {"label": "one supervised step, batch 8", "command": "cost",
                    "checkpoints": [], "metrics": steps}
    if args.record:
        from studies.results import write_result

        command = "python -m studies.view_bank_cost " + shlex.join(sys.argv[1:] if argv is None
                                                                     else argv)
        print(write_result(
            "view_bank_cost", about="the view bank's size and build time against K, and the "
            "cost of a training step with it", dataset=f"{args.images} labelled source and "
            f"{args.images} target images ({Path(args.data).name}, "
            f"{Path(args.unlabelled).name}); ViT-S/14 frozen, "
            f"{args.size[0]}x{args.size[1]}", commands={"cost": command}, rows=rows,
            load_before=load_before, precision="fp32 (torch)",
            input_size=f"{args.size[0]}x{args.size[1]}", threads=torch.get_num_threads()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
