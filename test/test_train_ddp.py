"""DistributedDataParallel under `torch.distributed.run`: 2 CPU processes on gloo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from _train_fixtures import write_labelled, write_unlabelled

from uncertainty_seg_node.model.checkpoint import load_checkpoint
from uncertainty_seg_node.train.train_log import read_log

SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path

    import torch
    import torch.distributed as dist

    from uncertainty_seg_node.train import TrainConfig, train_task, train_uncertainty

    root = Path(sys.argv[1])
    dist.init_process_group("gloo")  # kept for both stages (they reuse an existing group)
    rank = dist.get_rank()
    common = dict(data=str(root / "src"), size=(56, 112), batch_size=1, lr=1e-3,
                  warmup_steps=0, quiet=True)
    theta = train_task(TrainConfig(out=str(root / "theta.pt"), steps=3, **common))
    torch.save(theta.model.state_dict(), root / f"theta_rank{rank}.pt")
    phi = train_uncertainty(TrainConfig(mode="uncertainty", out=str(root / "phi.pt"), steps=2,
                                        teacher=str(root / "theta.pt"),
                                        unlabelled=str(root / "tgt"), **common))
    torch.save(phi.model.state_dict(), root / f"phi_rank{rank}.pt")
    dist.destroy_process_group()
""")


@pytest.mark.slow
def test_two_gloo_processes_end_with_identical_weights(tmp_path: Path, repo_root: Path) -> None:
    write_labelled(tmp_path / "src", 4)
    write_unlabelled(tmp_path / "tgt", 4)
    script = tmp_path / "ddp_run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(repo_root)}
    # Own session, so a hang can be ended for the launcher AND its worker processes.
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
         "--standalone", str(script), str(tmp_path)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail("DDP run hung for 240 s:\n" + stderr[-3000:])
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    for stage in ("theta", "phi"):
        rank0 = torch.load(tmp_path / f"{stage}_rank0.pt")
        rank1 = torch.load(tmp_path / f"{stage}_rank1.pt")
        saved = load_checkpoint(tmp_path / f"{stage}.pt").model.state_dict()
        for name, value in rank0.items():
            torch.testing.assert_close(rank1[name], value, rtol=0, atol=0, msg=name)
            torch.testing.assert_close(saved[name], value, rtol=0, atol=0, msg=name)
        prov = load_checkpoint(tmp_path / f"{stage}.pt").config.provenance
        assert prov["world_size"] == 2
    # Training happened: the decoder moved away from its seeded initial weights.
    torch.manual_seed(0)
    from uncertainty_seg_node.model.segmenter import Segmenter

    initial = Segmenter(load_checkpoint(tmp_path / "theta.pt").config).state_dict()
    moved = (initial["decoder.classifier.weight"] - rank0["decoder.classifier.weight"]).abs()
    assert moved.max() > 1e-4
    # Rank 0 alone logged, once per step, metrics averaged over both ranks.
    assert [r["step"] for r in read_log(tmp_path / "phi.pt")] == [1, 2]
