"""Where a burst's latency goes: DDS delivery of the node's outputs, profile or not.

With and without the large-data Fast DDS profile reaching this distro's Fast DDS:

    python -m studies.results run dds_delivery --row "$DISTRO" --label "$DISTRO" -- \
        python -m studies.dds_delivery --json {json}

Two conditions, each in its own processes (Fast DDS reads its profile once per process):
`fastdds_name_only` sets only FASTDDS_DEFAULT_PROFILES_FILE, which Fast DDS 2 (Humble, Jazzy)
ignores: it reads only FASTRTPS_DEFAULT_PROFILES_FILE; `node_default` lets the node and the
client apply the profile as the node does (both names). Each
sends bursts of 480x640 rgb8 frames at 100 Hz into the node (a random tiny model) and, per
output message, splits the end-to-end time with the subscription's MessageInfo (Iron and later):
node (send -> the node's write), DDS (write -> the client's DDS receipt) and client (receipt ->
callback). Needs the ROS 2 wheels (tools/dev run ...).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUTPUTS = ("segmentation", "confidence", "certain_mask")


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    array = np.asarray(values)
    return {"median": float(np.median(array)), "p99": float(np.percentile(array, 99)),
            "max": float(array.max())}


def measure(model: Path, bursts: int, frames: int) -> dict[str, Any]:
    """One condition in this process: bursts into a fresh node, the split of each output."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from uncertainty_seg_node.ros_drivers.harness import GraphClient, NodeProcess, key_of

    domain = random.randint(101, 200)
    with tempfile.TemporaryDirectory() as tmp:
        node = NodeProcess({"model_path": str(model), "diagnostics_period": 0.2},
                           domain_id=domain, params_file=REPO / "config" / "params.yaml",
                           log_path=Path(tmp) / "node.log").start()
        client = GraphClient(domain, outputs=("certain_mask",))
        seen: dict[Any, dict[str, tuple[int, int, int]]] = {}

        def on_output(name: str, msg: Any, info: Any) -> None:
            seen.setdefault(key_of(msg.header), {})[name] = (
                info["source_timestamp"], info["received_timestamp"], time.time_ns())

        qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        subs = [client.node.create_subscription(Image, f"/uncertainty_seg_node/{name}",
                                                functools.partial(on_output, name), qos)
                for name in OUTPUTS]
        try:
            if not client.wait_until_connected(60.0):
                raise SystemExit(f"the node did not come up: {node.output()[-2000:]}")
            time.sleep(2.0)  # every output subscription matched
            image = np.random.default_rng(3).integers(0, 256, (480, 640, 3), dtype=np.uint8)
            sent: dict[Any, int] = {}
            stamp = 1_600_000_000_000_000_000
            for _ in range(bursts):
                start = time.perf_counter()
                for index in range(frames):
                    now = time.time_ns()
                    stamp += 1_000_003
                    sent[client.publish_image(image, "rgb8", stamp)] = now
                    time.sleep(max(0.0, start + (index + 1) * 0.01 - time.perf_counter()))
                time.sleep(4.0)
        finally:
            for sub in subs:
                client.node.destroy_subscription(sub)
            client.close()
            code = node.stop(signal.SIGINT)
    parts: dict[str, list[float]] = {"node_ms": [], "dds_ms": [], "client_ms": [], "e2e_ms": []}
    for key, t_send in sent.items():
        for source, received, callback in seen.get(key, {}).values():
            parts["node_ms"].append((source - t_send) / 1e6)
            parts["dds_ms"].append((received - source) / 1e6)
            parts["client_ms"].append((callback - received) / 1e6)
            parts["e2e_ms"].append((callback - t_send) / 1e6)
    return {"frames_sent": len(sent), "frames_with_outputs": sum(1 for k in sent if k in seen),
            "messages": len(parts["dds_ms"]), "node_exit": code,
            **{name: _stats(values) for name, values in parts.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--frames", type=int, default=150, help="frames per burst (100 Hz)")
    parser.add_argument("--condition", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.condition:
        args.json.write_text(json.dumps(measure(args.model, args.bursts, args.frames)))
        return 0
    from uncertainty_seg_node.ros.dds import default_profile

    profile = default_profile()
    assert profile is not None, "config/fastdds_large_data.xml is missing"
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = _tiny_model(Path(tmp))
        base = {k: v for k, v in os.environ.items() if "PROFILES_FILE" not in k
                and k != "UNCERTAINTY_SEG_FASTDDS_PROFILE"}
        conditions = {"fastdds_name_only": dict(base, FASTDDS_DEFAULT_PROFILES_FILE=str(profile)),
                      "node_default": base}
        for name, env in conditions.items():
            out = Path(tmp) / f"{name}.json"
            subprocess.run([sys.executable, "-m", "studies.dds_delivery", "--condition", name,
                            "--model", str(model),
                            "--json", str(out), "--bursts", str(args.bursts),
                            "--frames", str(args.frames)], env=env, check=True, cwd=REPO)
            figures[name] = json.loads(out.read_text())
            dds, e2e = figures[name]["dds_ms"], figures[name]["e2e_ms"]
            print(f"{name}: DDS delivery median {dds['median']:.1f} ms, p99 {dds['p99']:.1f} ms, "
                  f"max {dds['max']:.1f} ms; end-to-end max {e2e['max']:.1f} ms")
    from importlib import metadata

    for distro in ("kilted", "jazzy", "humble"):
        try:
            figures["rclpy"] = f"ros-{distro}-rclpy {metadata.version(f'ros-{distro}-rclpy')}"
            break
        except metadata.PackageNotFoundError:
            figures["rclpy"] = os.environ.get("ROS_DISTRO", "unknown")
    args.json.write_text(json.dumps(figures, indent=1))
    return 0


def _tiny_model(directory: Path) -> Path:
    """A random tiny segmenter as ONNX (the model of the ROS tests)."""
    import torch

    from uncertainty_seg_node.config import model_config_for
    from uncertainty_seg_node.export.onnx_export import export_onnx
    from uncertainty_seg_node.model.checkpoint import save_checkpoint
    from uncertainty_seg_node.model.segmenter import build_segmenter

    torch.manual_seed(0)
    checkpoint = save_checkpoint(directory / "tiny.pt",
                                 build_segmenter(model_config_for("tiny", input_size=(56, 112))))
    return Path(export_onnx(checkpoint, directory / "tiny.onnx", parity=False).path)


if __name__ == "__main__":
    sys.exit(main())
