"""`compare`: every method on the same frames, per domain, figures equal an independent run."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from replay_fixtures import one_torch_thread  # noqa: F401

from uncertainty_seg_node.bags.bag_io import BagWriter
from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.inference.factory import load_predictor
from uncertainty_seg_node.model.checkpoint import save_checkpoint
from uncertainty_seg_node.model.segmenter import Segmenter
from uncertainty_seg_node.replay.compare import (
    build_methods,
    comparison_results,
    markdown_tables,
    run_comparison,
)
from uncertainty_seg_node.replay.frames import folder_domains, open_frames

pytestmark = pytest.mark.usefixtures("one_torch_thread")

H, W = 28, 56
START = 1_700_000_000 * 10**9


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    paths = {}
    for seed, name in enumerate(("phi", "theta", "e1", "e2")):
        torch.manual_seed(seed)
        paths[name] = save_checkpoint(
            root / f"{name}.pt", Segmenter(model_config_for("tiny", input_size=(28, 56))))
    return paths


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bag") / "drive"
    rng = np.random.default_rng(0)
    with BagWriter(path, "mcap") as writer:
        for i in range(6):
            stamp = START + i * 10**8
            writer.write_image("/camera/image_raw", stamp, "cam",
                               rng.integers(0, 255, (H, W, 3)).astype(np.uint8), "rgb8")
            if i != 2:  # sparse labels: frame 2 is unlabelled and skipped
                writer.write_labels("/camera/labels", stamp, "cam",
                                    rng.integers(0, 19, (H, W)).astype(np.uint8))
            writer.write_string("/camera/domain", stamp, "day" if i < 3 else "fog")
    return path


def _cityscapes(root: Path, cities: tuple[str, ...], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for city in cities:
        for i in range(2):
            stem = f"{city}_{i:06d}_000019"
            image = root / "leftImg8bit" / "val" / city / f"{stem}_leftImg8bit.png"
            label = root / "gtFine" / "val" / city / f"{stem}_gtFine_labelTrainIds.png"
            image.parent.mkdir(parents=True, exist_ok=True)
            label.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(image), rng.integers(0, 255, (H, W, 3)).astype(np.uint8))
            cv2.imwrite(str(label), rng.integers(0, 19, (H, W)).astype(np.uint8))
    return root


def test_methods_share_frames_and_match_an_independent_evaluation(
        bag: Path, models: dict[str, Path]) -> None:
    methods = build_methods(models["phi"], models["theta"], ensemble=[models["e1"], models["e2"]],
                            mc_dropout_passes=3, temperature=2.0)
    names = [m.name for m in methods]
    assert names == ["f_phi MSP", "MSP", "MaxLogit", "entropy", "energy", "temperature (T=2)",
                     "MC dropout (3)", "ensemble (2)"]
    assert [m.passes for m in methods][-2:] == [3, 2]
    assert "p=0.1 enabled in the decoder at test time" in methods[-2].note
    frame_set = open_frames(bag)
    n = run_comparison(methods, frame_set.frames, progress=False, total=frame_set.count)
    assert n == 5  # the unlabelled frame is skipped
    results = comparison_results(methods, n)
    assert results["domains"] == ["day", "fog"]
    msp = results["methods"]["MSP"]
    assert msp["domains"]["day"]["frames"] == 2 and msp["domains"]["fog"]["frames"] == 3
    assert msp["ms_per_frame"] > 0 and msp["passes"] == 1

    # MSP of f_theta equals an independent run of the same predictor over the same frames.
    sk = pytest.importorskip("sklearn.metrics")
    theta = load_predictor(models["theta"])
    accurate, scores = [], []
    for frame in open_frames(bag).frames:
        p = theta.predict(frame.image)
        valid = frame.labels != 255
        accurate.append((p.class_ids == frame.labels)[valid])
        scores.append(p.confidence[valid])
    acc = np.concatenate(accurate)
    grid = np.rint(np.concatenate(scores).astype(np.float64) * 9999) / 9999
    assert msp["overall"]["aupr"] == pytest.approx(sk.average_precision_score(acc, grid),
                                                   abs=1e-9)
    assert msp["overall"]["auroc"] == pytest.approx(sk.roc_auc_score(acc, grid), abs=1e-9)
    # Scores re-rank the same predictions: identical mIoU, different AUROC for MaxLogit.
    logit = results["methods"]["MaxLogit"]["overall"]
    assert logit["miou"] == pytest.approx(msp["overall"]["miou"])

    table = markdown_tables(results)
    assert "| f_phi MSP | 1 |" in table and "| ensemble (2) | 2 |" in table
    assert "as the paper's Table I" in table and "as the paper's Table II" in table


def test_cli_with_temperature_from_a_validation_folder(
        tmp_path: Path, bag: Path, models: dict[str, Path]) -> None:
    val = _cityscapes(tmp_path / "val", ("a",))
    out_json, out_md = tmp_path / "cmp.json", tmp_path / "cmp.md"
    code = main(["compare", "--data", str(bag), "--model", str(models["phi"]), "--baseline",
                 str(models["theta"]), "--temperature-from", str(val), "--json", str(out_json),
                 "--markdown", str(out_md), "--no-progress", "--max-frames", "3"])
    assert code == 0
    results = json.loads(out_json.read_text())
    temperature_rows = [n for n in results["methods"] if n.startswith("temperature (T=")]
    assert len(temperature_rows) == 1
    assert "fitted on" in results["methods"][temperature_rows[0]]["note"]
    assert results["frames"] == 2  # first 3 messages, one of them unlabelled
    assert out_md.read_text().startswith("Frames: 2")


def test_folder_domains_and_bad_arguments(tmp_path: Path, models: dict[str, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from uncertainty_seg_node.data import open_labelled

    root = _cityscapes(tmp_path / "cs", ("fog", "night"))
    assert folder_domains(open_labelled(root)) == ["fog", "fog", "night", "night"]
    frames = list(open_frames(root).frames)
    assert [f.domain for f in frames] == ["fog", "fog", "night", "night"]
    code = main(["compare", "--data", str(root), "--model", str(models["phi"]),
                 "--ensemble", str(models["e1"]), "--no-progress"])
    assert code == 2 and "at least two checkpoints" in capsys.readouterr().err
    code = main(["compare", "--data", str(root), "--model", str(models["phi"]),
                 "--mc-dropout-passes", "4", "--no-progress"])
    assert code == 2 and "pass it" in capsys.readouterr().err
