"""Temperature scaling fitted on labelled validation data (seed 003).

T minimises the NLL of softmax(logits / T) on a seeded subsample of labelled pixels from every
frame (needs logits: a checkpoint, or an ONNX file exported `--with-logits`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.data.sample import LabelledImage
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.imageops import resize_labels
from uncertainty_seg_node.inference.base import Predictor
from uncertainty_seg_node.inference.preprocess import plan_resize


def collect_logits(
    predictor: Predictor,
    dataset: Iterable[LabelledImage],
    *,
    pixels_per_frame: int = 20_000,
    max_frames: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded subsample of (logits (N, K), labels (N,)) of valid pixels at network size."""
    config = predictor.config
    rng = np.random.default_rng(seed)
    chunks, targets = [], []
    for index, sample in enumerate(dataset):
        if max_frames is not None and index >= max_frames:
            break
        prediction = predictor.predict(sample.image, encoding="rgb8", with_logits=True)
        if prediction.logits is None:
            raise UserError("the model returned no logits; temperature fitting needs them")
        labels = labels_at_network_size(sample.labels, config)
        flat = labels.ravel()
        valid = np.flatnonzero(flat != config.ignore_index)
        if valid.size > pixels_per_frame:
            valid = rng.choice(valid, pixels_per_frame, replace=False)
        logits = prediction.logits.reshape(prediction.logits.shape[0], -1)
        chunks.append(logits[:, valid].T.astype(np.float32))
        targets.append(flat[valid].astype(np.int64))
    if not chunks or sum(len(t) for t in targets) == 0:
        raise UserError("no labelled (non-ignore) pixels to fit the temperature on")
    return np.concatenate(chunks), np.concatenate(targets)


def labels_at_network_size(labels: np.ndarray, config: ModelConfig) -> np.ndarray:
    """Camera-size labels mapped like the image (resize policy), padding = ignore."""
    net = (int(config.input_size[0]), int(config.input_size[1]))
    plan = plan_resize((labels.shape[0], labels.shape[1]), net, config.resize_policy)
    top, left, box_h, box_w = plan.box
    out = np.full(net, config.ignore_index, np.uint8)
    out[top:top + box_h, left:left + box_w] = resize_labels(labels, (box_h, box_w))
    return out


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of softmax(logits / T) (float64, stable)."""
    z = logits.astype(np.float64) / temperature
    top = z.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(labels)), labels]))


def fit_temperature_on(
    predictor: Predictor, dataset: Iterable[LabelledImage], *, max_frames: int | None = None,
    pixels_per_frame: int = 20_000,
) -> tuple[float, float, float]:
    """(T, NLL at T=1, NLL at T) on the dataset's labelled pixels."""
    import torch

    from uncertainty_seg_node.scores import fit_temperature

    logits, labels = collect_logits(predictor, dataset, max_frames=max_frames,
                                    pixels_per_frame=pixels_per_frame)
    if labels.max() >= logits.shape[1]:
        raise UserError(f"labels hold ids >= {logits.shape[1]}, outside the model's classes")
    temperature = fit_temperature(torch.from_numpy(logits), torch.from_numpy(labels),
                                  predictor.config.ignore_index)
    return temperature, nll(logits, labels), nll(logits, labels, temperature)
