"""rank-frames: top-K by image uncertainty, outputs, and the error-rate rank correlation.

The ranking logic is checked with a predictor whose per-frame error rate is known (it damages a
known share of each frame's pixels and is unsure exactly there), so the expected order is
exact; the CLI is run end to end on a real bag with a real tiny checkpoint.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from replay_fixtures import one_torch_thread  # noqa: F401

from uncertainty_seg_node.bags.bag_io import BagWriter
from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.inference.base import Prediction
from uncertainty_seg_node.model.checkpoint import save_checkpoint
from uncertainty_seg_node.model.segmenter import Segmenter
from uncertainty_seg_node.replay.frames import SourceFrame
from uncertainty_seg_node.replay.rank_frames import rank_frames, write_ranking

pytestmark = pytest.mark.usefixtures("one_torch_thread")

H, W = 20, 30


class DamagingPredictor:
    """Predicts the labels except on the first `share` of the pixels of each frame, where it is
    wrong and unsure. The share is encoded in the image's first pixel (0..255 -> 0..1)."""

    backend_name = "test"

    def __init__(self) -> None:
        self.config = model_config_for("tiny", input_size=(28, 56))
        self.labels: dict[int, np.ndarray] = {}

    def predict(self, image: np.ndarray, *, encoding: str = "rgb8", gamma: float | None = None,
                with_logits: bool = False) -> Prediction:
        share = image[0, 0, 0] / 255.0
        labels = self.labels[int(image[0, 0, 1])]
        ids = labels.copy()
        confidence = np.full(labels.shape, 0.95, np.float32)
        damaged = np.arange(labels.size).reshape(labels.shape) < share * labels.size
        ids[damaged] = (labels[damaged] + 1) % 19
        confidence[damaged] = 0.2
        return Prediction(ids, confidence, confidence > 0.5, 0.5)


def _frames(predictor: DamagingPredictor, shares: list[float]) -> list[SourceFrame]:
    rng = np.random.default_rng(0)
    frames = []
    for i, share in enumerate(shares):
        labels = rng.integers(0, 19, (H, W)).astype(np.uint8)
        predictor.labels[i] = labels
        image = np.zeros((H, W, 3), np.uint8)
        image[0, 0] = (round(share * 255), i, 0)
        frames.append(SourceFrame(i, f"f{i}", 1000 + i, image, labels, None, ""))
    return frames


def test_frames_with_more_errors_rank_first(tmp_path: Path) -> None:
    predictor = DamagingPredictor()
    shares = [0.1, 0.6, 0.0, 0.9, 0.3, 0.45]
    ranking = rank_frames(predictor, _frames(predictor, shares), top_k=3, method="uaal")
    assert [r.index for r, _, _ in ranking.top] == [3, 1, 5]
    corr = ranking.correlation()
    assert corr["labelled_frames"] == 6
    assert corr["spearman_uaal"] == pytest.approx(1.0)
    assert corr["spearman_mean"] == pytest.approx(1.0)

    doc = write_ranking(ranking, tmp_path)
    assert [t["stamp_ns"] for t in doc["top_k"]] == [1003, 1001, 1005]
    assert sorted(p.name for p in (tmp_path / "frames").glob("*.png")) == [
        "rank_001_1003.png", "rank_002_1001.png", "rank_003_1005.png"]
    rows = list(csv.DictReader((tmp_path / "ranking.csv").open()))
    assert [int(r["index"]) for r in rows] == [3, 1, 5, 4, 0, 2]
    expected = np.ceil(round(0.9 * 255) / 255 * H * W) / (H * W)  # the share as encoded
    assert float(rows[0]["error_rate"]) == pytest.approx(expected, abs=1e-5)
    saved = json.loads((tmp_path / "top_k.json").read_text())
    assert saved["spearman_uaal"] == pytest.approx(1.0)
    assert (tmp_path / "score_vs_error.png").is_file()


def test_top_k_keeps_only_k_images_and_rejects_bad_arguments() -> None:
    predictor = DamagingPredictor()
    shares = list(np.linspace(0, 1, 40))
    ranking = rank_frames(predictor, iter(_frames(predictor, shares)), top_k=2, method="mean")
    assert len(ranking.top) == 2 and len(ranking.frames) == 40
    assert [r.index for r, _, _ in ranking.top] == [39, 38]
    with pytest.raises(Exception, match="--top"):
        rank_frames(predictor, [], top_k=0)
    with pytest.raises(Exception, match="no frame to rank"):
        rank_frames(predictor, [], top_k=1)


def test_cli_on_a_real_bag(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = save_checkpoint(tmp_path / "tiny.pt",
                            Segmenter(model_config_for("tiny", input_size=(28, 56))))
    rng = np.random.default_rng(1)
    with BagWriter(tmp_path / "bag", "sqlite3") as writer:
        for i in range(6):
            stamp = 10**18 + i * 10**8
            image = rng.integers(0, 255, (H, W, 3)).astype(np.uint8)
            writer.write_compressed("/cam/compressed", stamp, "cam", image, "jpeg")
    out = tmp_path / "rank"
    code = main(["rank-frames", "--bag", str(tmp_path / "bag"), "--image-topic",
                 "/cam/compressed", "--model", str(model), "--top", "3", "--out", str(out),
                 "--no-progress"])
    assert code == 0
    doc = json.loads((out / "top_k.json").read_text())
    assert doc["frames"] == 6 and len(doc["top_k"]) == 3 and doc["labelled_frames"] == 0
    scores = [t["score"] for t in doc["top_k"]]
    assert scores == sorted(scores, reverse=True)
    for item in doc["top_k"]:
        assert (out / item["image"]).is_file()
