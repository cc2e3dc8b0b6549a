"""Tables of the shipped models at run time: the demo drive, int8, CPU speed, DDS delivery.

Result files: demo.json (`uncertainty-seg demo`), quantize.json (`quantize`), speed_cpu.json
(`bench`), speed_node.json (`bench-node`), dds_delivery.json (studies/dds_delivery.py).
"""

from __future__ import annotations

from studies.results.figures import STAGE_NAMES, fmt
from studies.results.record import load_result
from studies.results.render import renderer, source_line, table_row


@renderer("quantize")
def quantize() -> str:
    """The shipping check of int8: label agreement, AUPR change and speed-up per model."""
    rows = load_result("quantize")["rows"]
    # The speed-up is a ratio of interleaved runs; absolute times on the shared development
    # machine are the speed tables' (speed_cpu.json), not repeated here.
    out = ["| model | frames | labels equal to fp32 | AUPR fp32 → int8 | int8 speed-up "
           "(interleaved) | MB fp32 → int8 | ships (≥ 99 %, < 0.005) |",
           "|---|---|---|---|---|---|---|"]
    for row in rows.values():
        r = row["metrics"]
        out.append(f"| {row['label']} | {r['frames']} | {100 * r['label_agreement']:.2f} % | "
                   f"{fmt(r['aupr_fp32'])} → {fmt(r['aupr_int8'])} | "
                   f"{fmt(r['speedup'], 2)}× | {r['fp32_mb']} → {r['int8_mb']} | "
                   f"{'yes' if r['ships'] else 'no'} |")
    return "\n".join(out) + "\n\n" + source_line("quantize")


@renderer("dds_delivery")
def dds_delivery() -> str:
    """Per distro and profile condition: where the time of a burst's outputs goes."""
    rows = load_result("dds_delivery")["rows"]
    conditions = {"fastdds_name_only": "only FASTDDS_DEFAULT_PROFILES_FILE set",
                  "node_default": "both names set, as the node sets them"}
    out = ["| distro (rclpy wheel) | profile | messages | node median / max ms | "
           "DDS delivery median / p99 / max ms | end-to-end max ms |",
           "|---|---|---|---|---|---|"]
    for row in rows.values():
        runs = row["metrics"]
        for key, label in conditions.items():
            r = runs.get(key)
            if not r:
                continue
            node, dds = r["node_ms"], r["dds_ms"]
            out.append(table_row(
                f"{row['label']} ({runs.get('rclpy', '?')})", label, r["messages"],
                f"{fmt(node['median'], 1)} / {fmt(node['max'], 1)}",
                " / ".join(fmt(dds[k], 1) for k in ("median", "p99", "max")),
                fmt(r["e2e_ms"]["max"], 1)))
    return "\n".join(out) + "\n\n" + source_line("dds_delivery")


@renderer("demo_domains")
def demo_domains() -> str:
    """Per domain: the default model in the node beside the compare model, same frames.

    The last two columns are the planner's: the share of pixels the certain mask holds at the
    model's γ, and how many of those are right (its precision).
    """
    summary = load_result("demo")["rows"]["demo"]["metrics"]
    other = summary.get("compare") or {}
    rows = dict(summary["domains"])
    rows["overall"] = summary["overall"]
    pair = (f"{STAGE_NAMES.get(str(summary.get('stage')), 'default')} / "
            f"{STAGE_NAMES.get(str(other.get('stage')), 'compare')}")
    out = ["| domain | " + " | ".join(f"{q} {pair}" for q in
                                      ("mIoU", "MaxF0.5", "p(a,c)", "AUPR", "certain",
                                       "certain precision")) + " |",
           "|---|---|---|---|---|---|---|"]
    for name, m in rows.items():
        o = other.get("overall", {}) if name == "overall" else \
            other.get("domains", {}).get(name, {})
        cells = [f"{fmt(m.get(k))} / {fmt(o.get(k))}" for k in
                 ("miou", "maxf05", "p_ac_at_maxf05", "aupr", "certain_fraction",
                  "precision_at_gamma")]
        label = f"{name} (source)" if name == "city-day" else name
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    run = (f"{summary['frames_received']} frames received, {summary['frames_missing']} missing; "
           f"end-to-end latency median {fmt(summary['latency_ms_median'], 1)} ms, max "
           f"{fmt(summary['latency_ms_max'], 1)} ms; {summary['wall_s']} s wall; γ "
           f"{fmt(summary['gamma'])} / {fmt(other.get('gamma'))}; the first model ran in the "
           "node, the second in-process on the same frames.")
    return "\n".join(out) + "\n\n" + run + "\n\n" + source_line("demo")


@renderer("speed_cpu")
def speed_cpu() -> str:
    """`bench` of the default model: one line per (input size, precision, threads, backend)."""
    r = load_result("speed_cpu")
    precision = {"onnxruntime": r["machine"].get("precision_onnxruntime", "—"),
                 "torch": r["machine"].get("precision_torch", "—")}
    out = ["| network input | camera image | precision | threads | backend | network alone "
           "median (p99) ms | whole pipeline median (p99) ms | load at the end |",
           "|---|---|---|---|---|---|---|---|"]
    for row in r["rows"].values():
        bench = row["metrics"]
        size = "×".join(map(str, bench["input_size"]))
        image = "×".join(map(str, bench["image_size"]))
        load = bench["machine"].get("load_average", [None])[0]
        for backend, entry in bench["backends"].items():
            alone, total = entry["stages"]["network_alone"], entry["stages"]["total"]
            out.append(table_row(
                size, f"{image} {bench['encoding']}", precision.get(backend, "—"),
                bench["threads"] or "default", backend,
                f"{fmt(alone['median_ms'], 1)} ({fmt(alone['p99_ms'], 1)})",
                f"{fmt(total['median_ms'], 1)} ({fmt(total['p99_ms'], 1)})", fmt(load, 1)))
    return "\n".join(out) + "\n\n" + source_line("speed_cpu")


@renderer("speed_node")
def speed_node() -> str:
    """`bench-node` of the default model: backend alone vs the node, then a too-fast camera."""
    f = load_result("speed_node")["rows"]["default"]["metrics"]
    over, keeps = f["overload"], f["keeps_up"]
    rows = [
        ("backend `predict()` in-process, median (p90)",
         f"{fmt(f['backend_predict_ms']['median_ms'], 1)} ms "
         f"({fmt(f['backend_predict_ms']['p90_ms'], 1)})"),
        ("node end to end, publish → `certain_mask` received, median (p90)",
         f"{fmt(f['node_e2e_ms']['median_ms'], 1)} ms ({fmt(f['node_e2e_ms']['p90_ms'], 1)})"),
        ("overhead of the node, ratio end to end / predict",
         f"{fmt(f['overhead_ms'], 1)} ms, {fmt(f['ratio_e2e_over_predict'], 2)}"),
        (f"camera at {fmt(over['camera_rate_hz'], 1)} Hz: published / dropped (busy)",
         f"{over['published']} / {over['dropped_busy']} of {over['received_by_node']}, "
         f"latency median {fmt(over['e2e_ms']['median_ms'], 1)} ms"),
        (f"node rate / camera rate ({fmt(keeps['camera_rate_hz'], 1)} Hz)",
         f"{fmt(keeps['node_rate_hz'], 1)} Hz / {fmt(keeps['camera_rate_hz'], 1)} Hz = "
         f"{fmt(keeps['ratio'], 2)} ({'keeps up' if keeps['keeps_up'] else 'does not keep up'})"),
        ("node start to first output, RSS",
         f"{fmt(f['node_start_to_first_output_s'], 1)} s, "
         f"{fmt(f['node_memory']['rss_mb'], 1)} MB"),
    ]
    out = ["| quantity | measured |", "|---|---|"]
    out += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(out) + "\n\n" + source_line("speed_node")
