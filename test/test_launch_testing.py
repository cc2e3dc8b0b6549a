"""The launch_testing test of run.launch.py (test/launch/run_launch_test.py), run by `launch_test`.

`launch_test` runs in the sourced colcon install, as `colcon test` would run it; the tiny model
keeps the start short. Its own checks (node ready, topics and types, exit codes at shutdown) are
in the launch test file; this test passes when they all pass.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from workspace_fixtures import run

pytestmark = pytest.mark.ros

LAUNCH_TEST = Path(__file__).resolve().parent / "launch" / "run_launch_test.py"


def test_launch_testing_of_run_launch(ros2_command: Path, colcon_install: Path,
                                      node_model: Path) -> None:
    result = run(colcon_install, f"launch_test {LAUNCH_TEST} model_path:={node_model} "
                 "image_topic:=/launch_testing/image_raw", random.randint(131, 160),
                 timeout=240.0)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    # every test ran (two while the launch runs, one after its shutdown), none failed
    for name in ("test_node_reports_ready", "test_topics_and_types", "test_exit_codes"):
        assert re.search(rf"^{name} \(run_launch_test\.", output, re.M), (name, output)
    assert "Ran 2 tests" in output and "Ran 1 test" in output, output[-6000:]
    assert "FAIL" not in output and "ERROR" not in output, output[-6000:]
