"""The uncertainty-trained model against the papers' baselines, on the same frames.

Methods (each a Predictor behind the one inference interface, so its measured cost is what a
deployment would pay):
    f_phi MSP            the uncertainty-trained model, max softmax, 1 pass (the method)
    MSP, MaxLogit, entropy, energy, temperature
                         the supervised model f_theta with each single-pass score
    MC dropout (N)       f_theta with its decoder dropout on at test time, N passes, mean softmax
    ensemble (M)         M checkpoints, mean softmax, M passes

Every method sees every frame (round robin per frame, so machine-load noise hits all methods
alike) and fills one fixed-size Evaluator per domain. The table follows the paper's Tables I
and II: MaxF0.5 @ p(a,c), AUPR, AUROC, FPR95, ECE, mIoU, with ms per frame and passes.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.metrics import Evaluator
from uncertainty_seg_node.model.artifact import model_kind
from uncertainty_seg_node.replay.evaluation import UNKNOWN_DOMAIN
from uncertainty_seg_node.replay.frames import SourceFrame

BASELINE_SCORES: tuple[tuple[str, str], ...] = (
    ("MSP", "msp"),
    ("MaxLogit", "maxlogit"),
    ("entropy", "entropy"),
    ("energy", "energy"),
)
DEFAULT_MC_DROPOUT_P = 0.1


@dataclass
class Method:
    """One row of the table: a name, its predictor and what it costs."""

    name: str
    predictor: Any
    passes: int
    model: str  # which file(s)
    note: str = ""
    times_ms: list[float] = field(default_factory=list)
    evaluators: dict[str, Evaluator] = field(default_factory=dict)


def build_methods(
    model: Path,
    baseline: Path | None = None,
    *,
    ensemble: Sequence[Path] = (),
    mc_dropout_passes: int = 0,
    mc_dropout_p: float | None = None,
    temperature: float | None = None,
    temperature_note: str = "",
    device: str = "cpu",
    backend: str = "auto",
    precision: str = "auto",
    load: Callable[..., Any] | None = None,
) -> list[Method]:
    """The predictors of every requested method (see the module docstring).

    `backend` runs f_phi and f_theta's max softmax, `precision` f_phi; the other baselines
    need PyTorch.
    """
    if load is None:
        from uncertainty_seg_node.inference.factory import load_predictor

        load = load_predictor
        if baseline is not None and model_kind(Path(baseline)) == "delta":
            load = _delta_baseline_loader(Path(baseline), load_predictor)
    options = {"precision": precision} if precision != "auto" else {}
    methods = [Method("f_phi MSP", load(model, backend, device, "msp", **options), 1,
                      str(model), "uncertainty-trained model (the method)")]
    if baseline is not None:
        for name, score in BASELINE_SCORES:
            methods.append(Method(name, load(baseline, backend, device, score), 1,
                                  str(baseline), f"f_theta, {score} score"))
        if temperature is not None:
            methods.append(Method(
                f"temperature (T={temperature:.3g})",
                load(baseline, "torch", device, "temperature", temperature=temperature), 1,
                str(baseline), temperature_note or "f_theta, temperature-scaled MSP"))
        if mc_dropout_passes > 0:
            methods.append(_mc_dropout(baseline, mc_dropout_passes, mc_dropout_p, device, load))
    if len(ensemble) == 1:
        raise UserError("a deep ensemble needs at least two checkpoints (--ensemble a.pt,b.pt)")
    if ensemble:
        methods.append(Method(f"ensemble ({len(ensemble)})",
                              load([Path(p) for p in ensemble], "torch", device, "msp"),
                              len(ensemble), ",".join(str(p) for p in ensemble),
                              "deep ensemble, mean softmax"))
    return methods


def _delta_baseline_loader(baseline: Path, load: Callable[..., Any]) -> Callable[..., Any]:
    """`load`, except that f_theta from a delta file is built once in PyTorch for every score.

    Its assembled ONNX has the max-softmax score fixed in the graph; MaxLogit, entropy, energy,
    temperature and MC dropout need the logits of the network itself.
    """
    from uncertainty_seg_node.export.assemble import build_segmenter_from_delta
    from uncertainty_seg_node.inference.torch_backend import TorchPredictor

    model = build_segmenter_from_delta(baseline)

    def loader(path: Any, backend: str, device: str, score: str | None = None,
               **options: Any) -> Any:
        if not isinstance(path, (str, Path)) or Path(path) != baseline:
            return load(path, backend, device, score, **options)
        member = copy.deepcopy(model) if options.get("mc_dropout") else model
        return TorchPredictor(member, device=device, score_method=score, **options)

    return loader


def _mc_dropout(baseline: Path, passes: int, p: float | None, device: str,
                load: Callable[..., Any]) -> Method:
    """f_theta with test-time dropout; a model trained without dropout gets p = 0.1 (said so)."""
    from uncertainty_seg_node.model.checkpoint import read_checkpoint_payload

    if passes < 2:
        raise UserError(f"MC dropout needs at least 2 passes, got {passes}")
    from uncertainty_seg_node.config import ModelConfig

    kind = model_kind(Path(baseline))
    if kind not in ("checkpoint", "delta"):
        raise UserError(f"MC dropout runs a checkpoint or delta file in PyTorch, not {baseline}")
    if kind == "delta":
        from uncertainty_seg_node.export.delta import read_delta

        trained_p = read_delta(baseline).config.dropout
    else:
        trained_p = ModelConfig.from_json(read_checkpoint_payload(baseline)["config"]).dropout
    note = f"f_theta, decoder dropout p={trained_p:g} (trained with it)"
    if p is None and trained_p <= 0:
        p = DEFAULT_MC_DROPOUT_P
    if p is not None and p != trained_p:
        note = (f"f_theta trained with dropout p={trained_p:g}; dropout p={p:g} enabled in the "
                "decoder at test time only")
    predictor = load(baseline, "torch", device, "msp", mc_dropout=passes, mc_dropout_p=p)
    return Method(f"MC dropout ({passes})", predictor, passes, str(baseline), note)


def run_comparison(
    methods: Sequence[Method],
    frames: Any,
    *,
    gamma: float | None = None,
    progress: bool = True,
    total: int | None = None,
) -> int:
    """Every method on every frame; returns the number of frames evaluated."""
    from tqdm import tqdm

    if not methods:
        raise UserError("no method to compare")
    n = 0
    bar = tqdm(total=total, unit="frame", disable=not progress, desc="compare")
    try:
        for frame in frames:
            _check_frame(frame)
            for method in methods:
                start = time.perf_counter()
                prediction = method.predictor.predict(frame.image, encoding="rgb8", gamma=gamma)
                method.times_ms.append(1e3 * (time.perf_counter() - start))
                evaluator = method.evaluators.get(frame.domain)
                if evaluator is None:
                    config = method.predictor.config
                    evaluator = method.evaluators[frame.domain] = Evaluator(
                        config.num_classes, config.ignore_index, gamma,
                        class_names=config.class_names)
                evaluator.update(prediction.class_ids, prediction.confidence, frame.labels,
                                 frame.anomaly)
            n += 1
            bar.update(1)
    finally:
        bar.close()
    if n == 0:
        raise UserError("no labelled frame to compare on")
    return n


def _check_frame(frame: SourceFrame) -> None:
    if frame.labels is None:
        raise UserError(f"frame {frame.name} has no labels; compare needs labelled data")


def method_results(method: Method) -> dict[str, Any]:
    """JSON-ready figures of one method: overall, per domain, cost."""
    merged: Evaluator | None = None
    for evaluator in method.evaluators.values():
        if merged is None:
            merged = Evaluator(evaluator.num_classes, evaluator.ignore_index, evaluator.gamma,
                               class_names=evaluator.class_names)
        merged.merge(evaluator)
    # The first call of a predictor includes its warm-up (allocations, lazy init): left out.
    times = np.asarray(method.times_ms[1:] or method.times_ms, dtype=np.float64)
    out: dict[str, Any] = {
        "model": method.model,
        "passes": method.passes,
        "note": method.note,
        "ms_per_frame": float(times.mean()) if times.size else float("nan"),
        "ms_per_frame_median": float(np.median(times)) if times.size else float("nan"),
        "overall": merged.compute() if merged is not None else {},
    }
    named = {d: e for d, e in method.evaluators.items() if d != UNKNOWN_DOMAIN}
    if named:
        out["domains"] = {(d or "unknown"): e.compute()
                          for d, e in sorted(method.evaluators.items())}
    return out


def comparison_results(methods: Sequence[Method], frames: int,
                       facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole comparison as one JSON-ready dict."""
    results = {m.name: method_results(m) for m in methods}
    domains = sorted({d for r in results.values() for d in r.get("domains", {})})
    return {"frames": frames, "domains": domains, "methods": results, **(facts or {})}


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def markdown_tables(results: dict[str, Any]) -> str:
    """Markdown: the overall table, then Table I / II style per-domain tables."""
    methods = results["methods"]
    anomaly = any("anomaly_auroc" in r["overall"] for r in methods.values())
    head = ["method", "passes", "ms/frame (median)", "MaxF0.5 @ p(a,c)", "AUPR", "AUROC", "FPR95",
            "ECE", "mIoU"] + (["anomaly AUROC", "anomaly AP"] if anomaly else [])
    lines = [f"Frames: {results['frames']}" + (
        f"; domains: {', '.join(results['domains'])}" if results["domains"] else ""), "",
        "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in methods.items():
        m = r["overall"]
        row = [name, str(r["passes"]), _f(r["ms_per_frame_median"], 1),
               f"{_f(m.get('maxf05'))} @ {_f(m.get('p_ac_at_maxf05'))}", _f(m.get("aupr")),
               _f(m.get("auroc")), _f(m.get("fpr95")), _f(m.get("ece")), _f(m.get("miou"))]
        if anomaly:
            row += [_f(m.get("anomaly_auroc")), _f(m.get("anomaly_ap"))]
        lines.append("| " + " | ".join(row) + " |")
    if len(results["domains"]) > 1:
        for title, cell in (
            ("MaxF0.5 @ p(a,c) per domain (as the paper's Table I)",
             lambda m: f"{_f(m.get('maxf05'))} @ {_f(m.get('p_ac_at_maxf05'))}"),
            ("AUPR per domain (as the paper's Table II)", lambda m: _f(m.get("aupr"))),
        ):
            lines += ["", f"**{title}**", "",
                      "| method | " + " | ".join(results["domains"]) + " |",
                      "|" + "---|" * (len(results["domains"]) + 1)]
            for name, r in methods.items():
                cells = [cell(r.get("domains", {}).get(d, {})) for d in results["domains"]]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
    notes = [f"- {name}: {r['note']}" for name, r in methods.items() if r["note"]]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"
