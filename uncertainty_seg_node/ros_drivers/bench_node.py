"""End-to-end latency of the node over real DDS against the backend's own latency, in one run.

For every frame, `predict()` of the same backend is timed in this process, then the same frame
goes to the node process (publish -> receipt of `~/certain_mask`, one frame in flight): the pairs
share the machine's load of the moment, so their difference is the node's overhead even on a
busy machine. Then a camera faster than the model: latency must stay bounded and the node's
/diagnostics must count the dropped frames. `uncertainty-seg bench-node` prints the result.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.bench import latency_stats, machine_info
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.parity import smooth_random_images
from uncertainty_seg_node.model.artifact import resolve_model_path
from uncertainty_seg_node.ros_drivers.harness import GraphClient, NodeProcess, key_of, make_image
from uncertainty_seg_node.share import package_share_dir

_OUTPUT = ("certain_mask",)  # the planner's topic, published first


@dataclass
class BenchSettings:
    """What `run_bench` measures."""

    model: str
    size: tuple[int, int] = (480, 640)
    frames: int = 100
    rate_hz: float | None = None  # overload phase camera rate; None = 3x the model's rate
    overload_s: float = 3.0
    backend: str = "auto"
    device: str = "cpu"
    precision: str = "auto"
    encoding: str = "bgr8"
    warmup: int = 10
    domain_id: int | None = None
    log_path: str | None = None
    camera_hz: float = 5.0  # the camera the node must keep up with (the demo drive's rate)


def _summary(values_ms: list[float]) -> dict[str, float]:
    """`bench.latency_stats` plus p90; {"n": 0} when nothing was measured."""
    if not values_ms:
        return {"n": 0}
    stats = latency_stats(values_ms)
    stats["p90_ms"] = float(np.percentile(np.asarray(values_ms), 90))
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in stats.items()}


def _direct(predictor: Any, frames: list[np.ndarray], encoding: str) -> list[float]:
    times = []
    for frame in frames:
        start = time.perf_counter()
        predictor.predict(frame, encoding=encoding)
        times.append(1e3 * (time.perf_counter() - start))
    return times


def _stamp() -> int:
    return time.time_ns()


def run_bench(settings: BenchSettings) -> dict[str, Any]:
    """Run the three phases; returns a JSON-able dict of figures and ratios."""
    from uncertainty_seg_node.inference.factory import load_predictor

    model = resolve_model_path(settings.model)
    if not model.is_file():
        raise UserError(f"model {model} does not exist; pass --model or export one with "
                        "`uncertainty-seg export`")
    # Loading here first assembles a delta file and builds a compiled model once; the node gets
    # the file as given and finds them in the cache, as a robot's node does.
    predictor = load_predictor(model, backend=settings.backend, device=settings.device,
                               precision=settings.precision)
    height, width = settings.size
    frames = smooth_random_images(settings.size, min(settings.frames, 20))
    sequence = [frames[i % len(frames)] for i in range(settings.frames)]
    _direct(predictor, frames[:3] * 2, settings.encoding)  # warm-up

    # A domain of its own, so a node already running on this machine is neither disturbed nor
    # mistaken for the one under test.
    domain = settings.domain_id or random.choice(
        [d for d in range(1, 101) if str(d) != os.environ.get("ROS_DOMAIN_ID")])
    params = {"model_path": str(model), "backend": settings.backend,
              "device": settings.device, "precision": settings.precision,
              "image_topic": "/bench/image_raw", "diagnostics_period": 0.5}
    process = NodeProcess(params, domain_id=domain,
                          params_file=package_share_dir() / "config" / "params.yaml",
                          log_path=settings.log_path).start()
    client: GraphClient | None = None
    try:
        client = GraphClient(domain, image_topic="/bench/image_raw", outputs=_OUTPUT)
        if not (client.wait_until_connected(60.0) and client.wait_input_reliable(10.0)):
            raise UserError(f"the node did not come up: {process.output()[-2000:]}")
        first_output_s = None
        for frame in (frames * max(1, settings.warmup))[: max(1, min(settings.warmup,
                                                                      settings.frames))]:
            key = client.publish_image(frame, settings.encoding, _stamp())
            if client.wait_outputs(key, _OUTPUT, timeout=30.0) and first_output_s is None:
                first_output_s = client.arrival[key]["certain_mask"] - process.started

        direct_ms, e2e = [], []
        for frame in sequence:
            direct_ms += _direct(predictor, [frame], settings.encoding)
            # The camera's message is built before the clock starts (a driver's cost, not the
            # node's); one frame in flight: no queueing, pure overhead.
            msg = make_image(frame, settings.encoding, _stamp(), "camera")
            key = key_of(msg.header)
            sent = time.perf_counter()
            client.image_pub.publish(msg)
            if client.wait_outputs(key, _OUTPUT, timeout=30.0):
                e2e.append(1e3 * (client.arrival[key]["certain_mask"] - sent))
            else:
                e2e.append(float("nan"))
        inside = client.wait_diagnostics(timeout=5.0)
        direct = _summary(direct_ms)
        rate = settings.rate_hz or max(10.0, 3e3 / max(direct["median_ms"], 1e-3))
        overload = _overload(client, frames, settings.encoding, rate, settings.overload_s)
        memory = {"rss_mb": round(process.rss_kb() / 1024, 1),
                  "peak_rss_mb": round(process.rss_kb("VmHWM") / 1024, 1),
                  "torch_mapped": _maps_torch(process.pid)}
    finally:
        if client is not None:
            client.close()
        code = process.stop()
    delivered = [(d, e) for d, e in zip(direct_ms, e2e) if np.isfinite(e)]
    node = _summary([e for _, e in delivered])
    paired = _summary([e - d for d, e in delivered])
    overhead = node["median_ms"] - direct["median_ms"]
    limit = max(0.1 * direct["median_ms"], 2.0)
    return {
        "model": str(model),
        "backend": predictor.backend_name,
        "precision": predictor.precision,
        "selection": predictor.selection,
        "device": settings.device,
        "image_size": [height, width],
        "encoding": settings.encoding,
        "frames": settings.frames,
        "backend_predict_ms": direct,
        "node_e2e_ms": node,
        "lost_frames": len(e2e) - len(delivered),
        "paired_overhead_ms": paired,
        "node_internal_ms": {
            "receive_to_publish_median": _float(inside.get("latency_median_ms")),
            "predict_median": _float(inside.get("inference_median_ms")),
        },
        "overhead_ms": round(overhead, 3),
        "ratio_e2e_over_predict": round(node["median_ms"] / direct["median_ms"], 4),
        "target": {"overhead_limit_ms": round(limit, 3), "met": bool(overhead <= limit)},
        "overload": overload,
        "keeps_up": _keeps_up(overload, settings.camera_hz),
        "node_start_to_first_output_s": (round(first_output_s, 3)
                                         if first_output_s is not None else None),
        "node_memory": memory,
        "node_exit_code": code,
        "machine": machine_info(settings.device),
    }


def _keeps_up(overload: dict[str, Any], camera_hz: float) -> dict[str, Any]:
    """The node's sustained output rate (camera faster than the model) over `camera_hz`."""
    node_hz = overload.get("output_rate_hz")
    ratio = round(node_hz / camera_hz, 3) if node_hz is not None else None
    return {"node_rate_hz": node_hz, "camera_rate_hz": camera_hz, "ratio": ratio,
            "keeps_up": bool(ratio is not None and ratio >= 1.0)}


def _maps_torch(pid: int) -> bool:
    """Whether the node process has libtorch mapped (it should not, serving an ONNX model)."""
    maps = Path(f"/proc/{pid}/maps").read_text(errors="replace")
    return "libtorch" in maps


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _overload(client: GraphClient, frames: list[np.ndarray], encoding: str, rate: float,
              duration: float) -> dict[str, Any]:
    """Camera at `rate` Hz for `duration` s: latency of what gets through, drops counted."""
    before = client.wait_diagnostics(timeout=5.0)
    sent: dict[tuple[int, int], float] = {}
    period = 1.0 / rate
    start = time.perf_counter()
    count = max(1, int(duration * rate))
    for index in range(count):
        msg = make_image(frames[index % len(frames)], encoding, _stamp(), "camera")
        sent[key_of(msg.header)] = time.perf_counter()
        client.image_pub.publish(msg)
        time.sleep(max(0.0, start + (index + 1) * period - time.perf_counter()))
    elapsed = time.perf_counter() - start
    client.wait_outputs(list(sent)[-1], _OUTPUT, timeout=30.0)
    after = client.wait_diagnostics(
        lambda v: int(v["frames_published"]) + int(v["frames_dropped_busy"])
        + int(v["frames_rejected"]) + int(v["frames_failed"]) == int(v["frames_received"]),
        timeout=10.0) or client.wait_diagnostics(timeout=5.0)
    latencies = [1e3 * (client.arrival[k]["certain_mask"] - t) for k, t in sent.items()
                 if "certain_mask" in client.arrival.get(k, {})]

    def delta(key: str) -> int | None:
        if key in after and key in before:
            return int(after[key]) - int(before[key])
        return None

    published = delta("frames_published")
    return {
        "camera_rate_hz": round(count / elapsed, 2),
        "sent": count,
        "received_by_node": delta("frames_received"),
        "published": published,
        "dropped_busy": delta("frames_dropped_busy"),
        "output_rate_hz": round(published / elapsed, 2) if published is not None else None,
        "e2e_ms": _summary(latencies),
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    """A few human-readable lines for the console."""
    direct, node, over = result["backend_predict_ms"], result["node_e2e_ms"], result["overload"]
    target = result["target"]
    return [
        f"model {result['model']} ({result['backend']} {result['precision']}, "
        f"{result['device']}), "
        f"{result['image_size'][0]}x{result['image_size'][1]} {result['encoding']}, "
        f"{result['frames']} frames",
        f"backend predict(): median {direct['median_ms']:.2f} ms (p90 {direct['p90_ms']:.2f})",
        f"node end to end (publish -> certain_mask received): median {node['median_ms']:.2f} "
        f"ms (p90 {node['p90_ms']:.2f}, max {node['max_ms']:.2f})",
        f"overhead {result['overhead_ms']:.2f} ms, ratio {result['ratio_e2e_over_predict']:.3f}"
        f" (target <= {target['overhead_limit_ms']:.2f} ms: "
        f"{'met' if target['met'] else 'NOT met'})",
        f"camera at {over['camera_rate_hz']} Hz: {over['published']} published, "
        f"{over['dropped_busy']} dropped (busy) of {over['received_by_node']} received; "
        f"e2e median {over['e2e_ms'].get('median_ms')} ms, max {over['e2e_ms'].get('max_ms')} "
        "ms",
        f"node rate {result['keeps_up']['node_rate_hz']} Hz vs camera "
        f"{result['keeps_up']['camera_rate_hz']} Hz: ratio {result['keeps_up']['ratio']} "
        f"({'keeps up' if result['keeps_up']['keeps_up'] else 'does NOT keep up'})",
        f"node process: start to first output {result['node_start_to_first_output_s']} s, "
        f"RSS {result['node_memory']['rss_mb']} MB (peak {result['node_memory']['peak_rss_mb']}"
        f" MB), libtorch {'mapped' if result['node_memory']['torch_mapped'] else 'not mapped'}",
        f"(load average {result['machine'].get('load_average')} on "
        f"{result['machine'].get('cpus')} CPUs)",
    ]


def default_model() -> Path:
    """The node's default model (params default, resolved like the node does)."""
    from uncertainty_seg_node.ros.params import DEFAULT_MODEL_PATH

    return resolve_model_path(DEFAULT_MODEL_PATH)

