"""The CPU backends side by side (studies/speed_backends.py): network, node, replay, gates.

Result file: speed_backends.json. Every ratio is over ONNX Runtime int8, the CPU path of a plain
install, measured in the same interleaved loop (network) or the same study run (node).
"""

from __future__ import annotations

from typing import Any

from studies.results.figures import MISSING, fmt
from studies.results.record import load_result
from studies.results.render import renderer, source_line, table_row

REFERENCE = "onnxruntime:int8"
NAMES = {"onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}


def _name(variant: str) -> str:
    backend, _, precision = variant.partition(":")
    return f"{NAMES.get(backend, backend)} {precision}"


def _gate(gate: dict[str, Any] | None) -> str:
    if not gate:
        return MISSING
    moved = gate.get("aupr_change")
    verdict = "passes" if gate["ships"] else "**fails**"
    return (f"{fmt(100 * gate['label_agreement'], 2)} %, "
            f"{fmt(moved, 4)}: {verdict}")


def _network(rows: dict[str, Any]) -> list[str]:
    out = ["| network input | threads | backend, precision | network alone median (p99) ms | "
           "× ONNX Runtime int8 | whole pipeline median ms | gate: labels equal, AUPR moved |",
           "|---|---|---|---|---|---|---|"]
    for row in rows.values():
        if row["command"] != "bench":
            continue
        bench = row["metrics"]
        size = "×".join(map(str, bench["input_size"]))
        reference = bench["backends"][REFERENCE]["stages"]["network_alone"]["median_ms"]
        for variant, entry in bench["backends"].items():
            alone = entry["stages"]["network_alone"]
            out.append(table_row(
                size, bench["threads"], _name(variant),
                f"{fmt(alone['median_ms'], 1)} ({fmt(alone['p99_ms'], 1)})",
                fmt(alone["median_ms"] / reference, 2),
                fmt(entry["stages"]["total"]["median_ms"], 1), _gate(entry.get("gate"))))
    return out


def _node(rows: dict[str, Any]) -> list[str]:
    nodes = {f"{r['metrics']['backend']}:{r['metrics']['precision']}": r["metrics"]
             for r in rows.values() if r["command"] == "bench-node"}
    if not nodes:
        return []
    reference = nodes[REFERENCE]["node_e2e_ms"]["median_ms"] if REFERENCE in nodes else None
    out = ["| backend, precision (168×224, default threads) | `predict()` median ms | node end "
           "to end median (p90) ms | × ONNX Runtime int8 | node / predict |",
           "|---|---|---|---|---|"]
    for variant, f in nodes.items():
        node = f["node_e2e_ms"]
        out.append(table_row(
            _name(variant), fmt(f["backend_predict_ms"]["median_ms"], 1),
            f"{fmt(node['median_ms'], 1)} ({fmt(node['p90_ms'], 1)})",
            fmt(node["median_ms"] / reference, 2) if reference else MISSING,
            fmt(f["ratio_e2e_over_predict"], 2)))
    return out


def _replay(rows: dict[str, Any]) -> list[str]:
    replays = [(row["label"], row["metrics"]) for row in rows.values()
               if row["command"] == "replay"]
    if not replays:
        return []
    out = ["| replay of the demo drive | frames | loop / its own network time | loop / "
           "network alone | whole command / network alone | read, predict, network, write, "
           "evaluate ms/frame |",
           "|---|---|---|---|---|---|"]
    for label, m in replays:
        ms = m["ms_per_frame"]
        stages = ", ".join(fmt(ms[k], 1) for k in ("read", "predict", "network", "write",
                                                   "evaluate"))
        out.append(table_row(label, m["frames"], fmt(m["loop_over_network"], 2),
                             fmt(m.get("loop_over_network_alone"), 2),
                             fmt(m.get("command_over_network_alone"), 2), stages))
    return out


@renderer("speed_backends")
def speed_backends() -> str:
    """Network alone per (size, threads) with each gate; the node; the replay's own cost."""
    rows = load_result("speed_backends")["rows"]
    parts = [_network(rows), _node(rows), _replay(rows)]
    body = "\n\n".join("\n".join(part) for part in parts if part)
    return body + "\n\n" + source_line("speed_backends")


@renderer("speed_backends_summary")
def speed_backends_summary() -> str:
    """The README's short form: 168×224, each backend and precision, network and node."""
    rows = load_result("speed_backends")["rows"]
    network: dict[tuple[str, int], tuple[float, float]] = {}
    gates: dict[str, Any] = {}
    for row in rows.values():
        bench = row["metrics"]
        if row["command"] != "bench" or tuple(bench["input_size"]) != (168, 224):
            continue
        reference = bench["backends"][REFERENCE]["stages"]["network_alone"]["median_ms"]
        for variant, entry in bench["backends"].items():
            median = entry["stages"]["network_alone"]["median_ms"]
            network[(variant, bench["threads"])] = (median, median / reference)
            gates.setdefault(variant, entry.get("gate"))
    nodes = {f"{r['metrics']['backend']}:{r['metrics']['precision']}": r["metrics"]
             for r in rows.values() if r["command"] == "bench-node"}
    node_ref = nodes.get(REFERENCE, {}).get("node_e2e_ms", {}).get("median_ms")
    out = ["| backend, precision | network ms, 1 thread (× int8 ORT) | 2 threads | node end to "
           "end ms | gate |", "|---|---|---|---|---|"]
    for variant in gates:
        cells = []
        for threads in (1, 2):
            ms, ratio = network.get((variant, threads), (None, None))
            cells.append(f"{fmt(ms, 1)} ({fmt(ratio, 2)})")
        node = nodes.get(variant, {}).get("node_e2e_ms", {}).get("median_ms")
        node_cell = f"{fmt(node, 1)} ({fmt(node / node_ref, 2)})" if node and node_ref else MISSING
        out.append(table_row(_name(variant), *cells, node_cell, _gate(gates[variant])))
    return "\n".join(out) + "\n\n" + source_line("speed_backends")
