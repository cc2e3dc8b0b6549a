from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.data import (
    EvalTransform,
    InfiniteLoader,
    LabelledSample,
    TrainTransform,
    labels_to_tensor,
    open_labelled,
    open_unlabelled,
    to_tensor_batch,
)
from uncertainty_seg_node.data.photometric import PhotometricStrength
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.imageops import resize_image, resize_labels

CONFIG = model_config_for("tiny", input_size=(28, 56))


def _sample(seed: int = 0, h: int = 60, w: int = 90, name: str = "s") -> LabelledSample:
    """Blocky labels; the image's red channel is 20 * label so alignment can be checked."""
    rng = np.random.default_rng(seed)
    labels = np.kron(rng.integers(0, 6, (6, 9)), np.ones((10, 10), int)).astype(np.uint8)
    labels[:10, :10] = 255
    image = np.zeros((h, w, 3), np.uint8)
    image[..., 0] = np.where(labels == 255, 250, labels * 20)
    image[..., 1] = np.arange(w, dtype=np.uint8)[None, :]
    return LabelledSample(name, image, labels, None)


class _ListDataset:
    def __init__(self, n: int) -> None:
        self.samples = [_sample(i, name=f"n{i}") for i in range(n)]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> LabelledSample:
        return self.samples[i]


def test_eval_is_a_stretch_resize() -> None:
    sample = _sample()
    image, labels = EvalTransform(CONFIG)(sample)
    np.testing.assert_array_equal(image, resize_image(sample.image, (28, 56)))
    np.testing.assert_array_equal(labels, resize_labels(sample.labels, (28, 56)))


def test_train_at_scale_one_is_eval_or_its_mirror() -> None:
    sample = _sample()
    eval_image, eval_labels = EvalTransform(CONFIG)(sample)
    transform = TrainTransform(CONFIG, scale_range=(1.0, 1.0), hflip=True)
    flips = 0
    for seed in range(16):
        image, labels = transform(sample, np.random.default_rng(seed))
        if np.array_equal(labels, eval_labels):
            np.testing.assert_array_equal(image, eval_image)
        else:
            np.testing.assert_array_equal(labels, eval_labels[:, ::-1])
            np.testing.assert_array_equal(image, eval_image[:, ::-1])
            flips += 1
    assert 2 <= flips <= 14
    no_flip = TrainTransform(CONFIG, scale_range=(1.0, 1.0), hflip=False)
    for seed in range(4):
        np.testing.assert_array_equal(no_flip(sample, np.random.default_rng(seed))[1],
                                      eval_labels)


def _agreement(image: np.ndarray, labels: np.ndarray) -> float:
    known = labels != 255
    red, expected = image[..., 0][known].astype(int), labels[known].astype(int) * 20
    return float((np.abs(red - expected) <= 9).mean())


def test_zoom_keeps_labels_aligned_and_pads_with_ignore() -> None:
    transform = TrainTransform(CONFIG, scale_range=(0.5, 2.0))
    padded = 0
    aligned, mirrored = [], []
    for seed in range(30):
        image, labels = transform(_sample(seed), np.random.default_rng(seed))
        assert image.shape == (28, 56, 3) and image.dtype == np.uint8
        assert labels.shape == (28, 56) and labels.dtype == np.uint8
        # the red channel encodes the label; block edges blur when shrinking, a misaligned
        # (mirrored) label map is the control
        aligned.append(_agreement(image, labels))
        mirrored.append(_agreement(image, labels[:, ::-1]))
        pad = (image == np.array(transform.fill, np.uint8)).all(axis=2)
        assert (labels[pad] == 255).all()
        padded += int(pad.any())
    assert min(aligned) > 0.6 and np.mean(aligned) > 0.8
    assert np.mean(mirrored) < 0.4
    assert padded > 3  # scales below 1 did pad


def test_half_scale_pads_three_quarters() -> None:
    transform = TrainTransform(CONFIG, scale_range=(0.5, 0.5), hflip=False)
    _, labels = transform(_sample(), np.random.default_rng(0))
    content = labels != 255
    assert abs(content.mean() - 0.25) < 0.05


def test_unlabelled_images_are_never_padded() -> None:
    transform = TrainTransform(CONFIG, scale_range=(0.5, 0.6))
    sample = _sample()
    eval_image = EvalTransform(CONFIG).image(sample.image)
    for seed in range(8):
        image = transform.image(sample.image, np.random.default_rng(seed))
        assert np.array_equal(image, eval_image) or np.array_equal(image, eval_image[:, ::-1])
    with pytest.raises(UserError, match="scale range"):
        TrainTransform(CONFIG, scale_range=(2.0, 1.0))


def test_photometric_is_off_by_default_and_leaves_labels_to_the_geometry() -> None:
    sample = _sample()
    plain = TrainTransform(CONFIG, scale_range=(1.0, 1.0), hflip=False)
    np.testing.assert_array_equal(plain(sample, np.random.default_rng(1))[0],
                                  EvalTransform(CONFIG).image(sample.image))
    jitter = TrainTransform(CONFIG, scale_range=(0.7, 1.4), photometric=PhotometricStrength())
    geometry = TrainTransform(CONFIG, scale_range=(0.7, 1.4))
    changed = 0
    for seed in range(12):
        image, labels = jitter(sample, np.random.default_rng(seed))
        plain_image, plain_labels = geometry(sample, np.random.default_rng(seed))
        # The geometry is drawn first, so the same seed gives the same crop, flip and labels.
        np.testing.assert_array_equal(labels, plain_labels)
        changed += int(not np.array_equal(image, plain_image))
    assert changed >= 10  # 1/32 of draws change nothing


def test_to_tensor_batch_normalises() -> None:
    images = [np.full((28, 56, 3), v, np.uint8) for v in (0, 255)]
    x = to_tensor_batch(images, CONFIG)
    assert x.shape == (2, 3, 28, 56) and x.dtype == torch.float32
    mean, std = np.array(CONFIG.mean), np.array(CONFIG.std)
    np.testing.assert_allclose(x[0, :, 0, 0].numpy(), -mean / std, rtol=1e-5)
    np.testing.assert_allclose(x[1, :, 5, 7].numpy(), (1 - mean) / std, rtol=1e-5)
    y = labels_to_tensor([np.array([[0, 255]], np.uint8)])
    assert y.dtype == torch.int64 and y.tolist() == [[[0, 255]]]


def _drain(loader: InfiniteLoader, steps: int) -> list[list[int]]:
    return [next(loader).indices for _ in range(steps)]


def test_loader_is_seeded_sharded_and_resumable() -> None:
    data = _ListDataset(7)
    transform = TrainTransform(CONFIG)
    a = InfiniteLoader(data, 3, transform, CONFIG, seed=5, rank=0, world_size=1)
    b = InfiniteLoader(data, 3, transform, CONFIG, seed=5, rank=0, world_size=1)
    first, second = next(a), next(b)
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert first.images.shape == (3, 3, 28, 56) and first.labels.shape == (3, 28, 56)
    assert first.names == [f"n{i}" for i in first.indices]
    # epochs: every index once per epoch, order changes between epochs
    seen = [i for batch in _drain(InfiniteLoader(data, 7, transform, CONFIG, seed=1,
                                                 rank=0, world_size=1), 2) for i in batch]
    assert sorted(seen[:7]) == sorted(seen[7:]) == list(range(7)) and seen[:7] != seen[7:]
    # two ranks: disjoint shards covering the data (padded to 8 like DistributedSampler)
    r0 = InfiniteLoader(data, 1, transform, CONFIG, seed=2, rank=0, world_size=2)
    r1 = InfiniteLoader(data, 1, transform, CONFIG, seed=2, rank=1, world_size=2)
    s0, s1 = r0.shard_indices(0), r1.shard_indices(0)
    assert len(s0) == len(s1) == 4 and set(s0) | set(s1) == set(range(7))
    # resume: a fresh loader from a saved state continues identically
    c = InfiniteLoader(data, 3, transform, CONFIG, seed=9, rank=0, world_size=1)
    _drain(c, 4)
    state = c.state_dict()
    expected = next(c)
    d = InfiniteLoader(data, 3, transform, CONFIG, seed=0, rank=0, world_size=1)
    d.load_state_dict(state)
    resumed = next(d)
    assert resumed.indices == expected.indices
    assert torch.equal(resumed.images, expected.images)


def test_loader_on_unlabelled_and_real_camvid(camvid_root: Path) -> None:
    config = model_config_for("tiny", input_size=(98, 126))
    transform = TrainTransform(config)
    labelled = open_labelled(camvid_root / "day" / "train")
    batch = next(InfiniteLoader(labelled, 2, transform, config, seed=0))
    assert batch.images.shape == (2, 3, 98, 126) and batch.labels is not None
    values = set(torch.unique(batch.labels).tolist())
    assert values <= set(range(11)) | {255} and len(values) > 3
    dusk = open_unlabelled(camvid_root / "dusk" / "unlabelled")
    ub = next(InfiniteLoader(dusk, 2, transform, config, seed=0))
    assert ub.labels is None and ub.images.shape == (2, 3, 98, 126)
    assert ub.names == [dusk.names[i] for i in ub.indices]
