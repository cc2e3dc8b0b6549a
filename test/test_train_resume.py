"""Checkpoints every N steps and `--resume`: a resumed run ends where an unbroken one does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from _train_fixtures import write_labelled, write_unlabelled

from uncertainty_seg_node.model.checkpoint import load_checkpoint, read_checkpoint_payload
from uncertainty_seg_node.train import TrainConfig, train_task, train_uncertainty
from uncertainty_seg_node.train.train_log import read_log


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("resume")
    source = write_labelled(root / "src", 3)
    teacher = root / "theta.pt"
    train_task(TrainConfig(data=str(source), out=str(teacher), size=(56, 112), steps=2,
                           batch_size=1, quiet=True))
    return {"source": source, "target": write_unlabelled(root / "tgt", 3), "teacher": teacher}


def _config(data: dict[str, Path], out: Path, steps: int, **kw: object) -> TrainConfig:
    return TrainConfig(
        mode="uncertainty", data=str(data["source"]), unlabelled=str(data["target"]),
        teacher=str(data["teacher"]), out=str(out), steps=steps, batch_size=2, warmup_steps=1,
        lr=1e-3, gamma_ema_decay=0.5, quiet=True, **kw,  # type: ignore[arg-type]
    )


def test_resume_continues_from_the_saved_step(
    data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight = train_uncertainty(_config(data, tmp_path / "straight.pt", 4))

    # A 4-step run with a checkpoint every 2 steps that "crashes" right after that checkpoint.
    import uncertainty_seg_node.train.loop as loop

    original_save = loop._Session.save

    def save_then_crash(self: Any, step: int, *, final: bool) -> None:
        original_save(self, step, final=final)
        raise _CrashError

    partial = tmp_path / "partial.pt"
    monkeypatch.setattr(loop._Session, "save", save_then_crash)
    with pytest.raises(_CrashError):
        train_uncertainty(_config(data, partial, 4, checkpoint_every=2))
    monkeypatch.setattr(loop._Session, "save", original_save)
    saved = read_checkpoint_payload(partial)["train_state"]
    assert saved["step"] == 2 and saved["final"] is False and "optimizer" in saved

    resumed = train_uncertainty(_config(data, partial, 4, resume=True))
    assert resumed.start_step == 2
    # Same weights as the unbroken run: optimiser, schedule, data streams, masks and the gamma
    # EMA all continued where they stopped.
    for name, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, msg=name)
    rows = read_log(partial)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]  # the log continues, no duplicates
    straight_rows = read_log(tmp_path / "straight.pt")
    assert rows[-1]["gamma_ema"] == pytest.approx(straight_rows[-1]["gamma_ema"], rel=1e-5)
    assert load_checkpoint(partial).config.default_gamma == pytest.approx(
        load_checkpoint(tmp_path / "straight.pt").config.default_gamma, rel=1e-5
    )


def test_resume_of_a_finished_run_does_nothing(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "done.pt"
    train_task(TrainConfig(data=str(data["source"]), out=str(out), size=(56, 112), steps=2,
                           batch_size=1, quiet=True))
    before = out.stat().st_mtime_ns
    result = train_task(TrainConfig(data=str(data["source"]), out=str(out), size=(56, 112),
                                    steps=2, batch_size=1, quiet=True, resume=True))
    assert result.start_step == 2 and out.stat().st_mtime_ns == before


class _CrashError(Exception):
    pass


def test_keep_every_keeps_the_intermediate_checkpoints(
    data: dict[str, Path], tmp_path: Path
) -> None:
    from uncertainty_seg_node.train.loop import kept_checkpoint

    out = tmp_path / "phi.pt"
    final = train_uncertainty(_config(data, out, 4, keep_every=2))
    kept = kept_checkpoint(out, 2)
    assert kept.name == "phi.step2.pt"
    assert sorted(p.name for p in tmp_path.glob("phi*.pt")) == ["phi.pt", "phi.step2.pt"]
    state = read_checkpoint_payload(kept)["train_state"]
    assert state["step"] == 2 and state["final"] is False
    assert read_checkpoint_payload(out)["train_state"]["step"] == 4
    early = load_checkpoint(kept).model.state_dict()
    changed = [n for n, v in final.model.state_dict().items() if not torch.equal(early[n], v)]
    assert changed, "the kept step-2 weights must be the weights of step 2, not the final ones"


def test_negative_keep_every_is_refused(data: dict[str, Path], tmp_path: Path) -> None:
    from uncertainty_seg_node.errors import UserError

    with pytest.raises(UserError, match="keep_every"):
        train_uncertainty(_config(data, tmp_path / "x.pt", 2, keep_every=-1))
