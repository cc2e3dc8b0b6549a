"""The main job out of the box: the real node, over real DDS, on a built-in sample drive.

1. `synth` writes the sample drive as a ROS 2 bag: the source domain, then shifted domains and
   unknown objects, with labels, anomaly masks and the domain name on their own topics.
2. The node starts as its own process (the console script, as `ros2 run` starts it) with the
   package's params file and the default model.
3. A player (a second DDS participant) publishes the bag's frames on the camera topic at the
   drive's rate and records every frame the node publishes, with the ground truth, into an MCAP
   bag that opens in RViz or Foxglove.
4. The node's outputs are evaluated per domain and written as the replay report (HTML + JSON).
5. With `compare`, a second model (the other stage of the default's run) runs in this process
   on the same frames and the per-domain figures of both go into `report/comparison.md`
   (replay/side_by_side.py).

A delta model file is assembled into its cached ONNX before the node starts, so the node loads a
plain ONNX file and its start-up time does not include the assembly.
"""

from __future__ import annotations

import random
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.bags import topics
from uncertainty_seg_node.bags.bag_io import read_images, read_mono, read_strings
from uncertainty_seg_node.bags.writer import BagWriter
from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.replay.evaluation import ReplayEvaluation
from uncertainty_seg_node.replay.report import write_report
from uncertainty_seg_node.ros.params import NODE_NAME
from uncertainty_seg_node.ros_drivers.harness import GraphClient, NodeProcess, output_array
from uncertainty_seg_node.synth.domains import parse_domains
from uncertainty_seg_node.synth.drive import render_drive
from uncertainty_seg_node.synth.writers import write_bag

_OUTPUT_NAMES = ("segmentation", "confidence", "certain_mask")
# certain_fraction and precision_at_gamma are at the model's gamma: what a planner gets.
_FIGURES = ("miou", "maxf05", "p_ac_at_maxf05", "aupr", "certain_fraction", "precision_at_gamma")
_RECORDED = ("segmentation", "confidence", "certain_mask", "segmentation_color",
             "confidence_color")


@dataclass
class DemoOptions:
    """What the demo runs on; defaults finish in a few minutes on a 2-core CPU."""

    model: Path
    params_file: Path
    out: Path
    domains: str = "city-day,rural,fog,night,snow,offroad"
    frames: int = 180
    size: tuple[int, int] = (480, 640)
    rate: float = 5.0
    seed: int = 7
    frame_timeout_s: float = 20.0
    compare: Path | None = None  # a second model, run here on the same frames


def _model_config(model: Path) -> ModelConfig:
    from uncertainty_seg_node.inference.factory import load_predictor

    return load_predictor(model, backend="auto", device="cpu").config


def make_sample_drive(options: DemoOptions) -> Path:
    """The built-in sample drive (`uncertainty-seg synth --bag` with the demo's settings)."""
    bag = options.out / "sample_drive"
    if bag.exists():
        shutil.rmtree(bag)
    partial = options.out / "sample_drive.partial"
    if partial.exists():
        shutil.rmtree(partial)
    frames = render_drive(parse_domains(options.domains), options.frames, options.size,
                          options.seed, options.rate)
    write_bag(frames, partial, "mcap", rate=options.rate)
    partial.rename(bag)  # a bag that exists is complete
    return bag


def run_demo(options: DemoOptions) -> dict[str, Any]:
    """Run the whole main job; returns the summary (also written to `out/summary.json`)."""
    if not options.model.is_file():
        raise UserError(f"model {options.model} does not exist; the default model ships in "
                        "models/ (see models/MODEL_CARD.md for the command that makes it)")
    from uncertainty_seg_node.export.assemble import deployable

    options.out.mkdir(parents=True, exist_ok=True)
    model = deployable(options.model)
    config = _model_config(model)
    bag = make_sample_drive(options)
    labels = {item.stamp_ns: item.image for item in read_mono(bag, topics.LABEL_TOPIC)}
    anomaly = {item.stamp_ns: item.image for item in read_mono(bag, topics.ANOMALY_TOPIC)}
    domains = dict(read_strings(bag, topics.DOMAIN_TOPIC))

    evaluation = ReplayEvaluation(
        config.num_classes, config.palette, class_names=config.class_names,
        ignore_index=config.ignore_index, gamma=config.default_gamma, examples_per_domain=1)
    domain_id = random.SystemRandom().randint(1, 100)
    log = options.out / "node.log"
    latencies_ms: list[float] = []
    missing = 0
    recording = options.out / "recording.mcap"
    if recording.is_dir():  # a bag is a folder: a rerun replaces the last one
        shutil.rmtree(recording)
    elif recording.exists():
        recording.unlink()
    node = NodeProcess({"model_path": str(model.resolve()),
                        "image_topic": topics.IMAGE_TOPIC},
                       domain_id=domain_id, params_file=options.params_file, log_path=log)
    start = time.monotonic()
    with node, BagWriter(recording, "mcap") as writer:
        client = GraphClient(domain_id, image_topic=topics.IMAGE_TOPIC,
                             outputs=_RECORDED)
        try:
            if not (client.wait_until_connected(60.0) and client.wait_input_reliable(20.0)):
                raise UserError(f"the node did not come up; its log is {log}:\n"
                                + node.output()[-2000:])
            period = 1.0 / options.rate
            for index, frame in enumerate(read_images(bag, topics.IMAGE_TOPIC)):
                tick = time.perf_counter()
                key = client.publish_image(frame.image, "rgb8", frame.stamp_ns, frame.frame_id)
                got = client.wait_outputs(key, _OUTPUT_NAMES, options.frame_timeout_s)
                if not got:
                    missing += 1
                    continue
                latencies_ms.append(1e3 * (client.arrival[key]["certain_mask"] - tick))
                _record(writer, frame, got, labels, anomaly, domains)
                evaluation.add(
                    index=index, stamp_ns=frame.stamp_ns, image=frame.image,
                    class_ids=output_array(got["segmentation"]),
                    confidence=output_array(got["confidence"]),
                    certain=output_array(got["certain_mask"]) > 0,
                    labels=labels.get(frame.stamp_ns), anomaly=_bool(anomaly, frame.stamp_ns),
                    domain=domains.get(frame.stamp_ns, ""),
                    predict_ms=latencies_ms[-1])
                time.sleep(max(0.0, period - (time.perf_counter() - tick)))
            diagnostics = client.wait_diagnostics(timeout=5.0)
        finally:
            client.close()
    wall_s = time.monotonic() - start
    facts = {"mode": "demo (node over DDS)", "model": str(options.model), "bag": str(bag),
             "recording": str(recording), "frames_sent": len(evaluation.frames) + missing,
             "frames_received": len(evaluation.frames), "frames_missing": missing,
             "gamma": config.default_gamma, "wall_s": round(wall_s, 1),
             "latency_ms_median": _stat(latencies_ms, 0.5),
             "latency_ms_max": max(latencies_ms) if latencies_ms else float("nan"),
             "node_diagnostics": {k: v for k, v in diagnostics.items() if not k.startswith("_")}}
    facts["stage"] = str(config.provenance.get("stage", "unknown"))
    report = options.out / "report"
    document = write_report(report, evaluation, facts=facts, title="Demo drive")
    summary = _summary(document, facts, report / "index.html")
    if options.compare is not None:
        summary["compare"] = _compare(options, summary, bag, labels, anomaly, domains, report)
    return summary


def _compare(options: DemoOptions, summary: dict[str, Any], bag: Path,
             labels: dict[int, np.ndarray], anomaly: dict[int, np.ndarray],
             domains: dict[int, str], report: Path) -> dict[str, Any]:
    """The compare model's figures on the same frames, and `report/comparison.md`."""
    from uncertainty_seg_node.replay.side_by_side import comparison_markdown, evaluate_on_bag

    assert options.compare is not None
    other = evaluate_on_bag(options.compare, bag, labels, anomaly, domains)
    main = {**summary["overall"], "domains": summary["domains"]}
    table = comparison_markdown(main, other, main_name=_short(options.model),
                                other_name=_short(options.compare))
    note = (f"Demo drive, same frames: `{options.model.name}` in the node over DDS "
            f"(gamma {summary['gamma']:.3f}) / `{options.compare.name}` in-process "
            f"(gamma {other['gamma']:.3f}, its own calibrated value).\n\n")
    (report / "comparison.md").write_text(note + table)
    return {"model": str(options.compare), "gamma": other["gamma"], "stage": other["stage"],
            "overall": {k: other.get(k) for k in _FIGURES},
            "domains": {name: {k: values.get(k) for k in _FIGURES}
                        for name, values in other.get("domains", {}).items()},
            "table": str(report / "comparison.md")}


def _short(path: Path) -> str:
    return path.name.split(".")[0]


def _bool(masks: dict[int, np.ndarray], stamp: int) -> np.ndarray | None:
    mask = masks.get(stamp)
    return None if mask is None else mask > 0


def _record(writer: BagWriter, frame: Any, got: dict[str, Any], labels: dict[int, np.ndarray],
            anomaly: dict[int, np.ndarray], domains: dict[int, str]) -> None:
    stamp, frame_id = frame.stamp_ns, frame.frame_id
    writer.write_image(topics.IMAGE_TOPIC, stamp, frame_id, frame.image, "rgb8")
    if stamp in labels:
        writer.write_labels(topics.LABEL_TOPIC, stamp, frame_id, labels[stamp])
    if stamp in anomaly:
        writer.write_labels(topics.ANOMALY_TOPIC, stamp, frame_id, anomaly[stamp])
    if stamp in domains:
        writer.write_string(topics.DOMAIN_TOPIC, stamp, domains[stamp])
    for name, msg in got.items():
        writer.write_image(f"/{NODE_NAME}/{name}", stamp, msg.header.frame_id,
                           output_array(msg), msg.encoding)


def _stat(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(statistics.quantiles(values, n=100)[int(q * 100) - 1]) if len(values) > 1 \
        else values[0]


def _summary(document: dict[str, Any], facts: dict[str, Any], html: Path) -> dict[str, Any]:
    per_domain = {
        name: {k: values.get(k) for k in (*_FIGURES, "anomaly_auroc")}
        for name, values in document.get("domains", {}).items()
    }
    return {"frames_received": facts["frames_received"], "frames_missing": facts["frames_missing"],
            "model": facts["model"], "stage": facts["stage"], "gamma": facts["gamma"],
            "latency_ms_median": facts["latency_ms_median"],
            "latency_ms_max": facts["latency_ms_max"], "wall_s": facts["wall_s"],
            "overall": {k: document.get(k) for k in _FIGURES},
            "domains": per_domain, "diagnostics": facts["node_diagnostics"],
            "recording": facts["recording"], "report": str(html)}
