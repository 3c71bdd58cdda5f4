"""The PNG charts of a results.json document (matplotlib, Agg backend)."""
from __future__ import annotations

import sys

from .catalog import REF_CEILING, case_method


COLORS = {"libuv": "#444444", "asio": "#8c564b", "asyncio-streams": "#1f77b4",
          "asyncio-protocol": "#aec7e8", "uvloop-streams": "#2ca02c", "uvloop-protocol": "#98df8a",
          "uvasync": "#d62728", "uvasync-idiomatic": "#ff9896", "uvasync-streams": "#ff9896",
          "beast": "#c49c94", "aiohttp-asyncio": "#9467bd", "aiohttp-uvloop": "#c5b0d5"}


def make_charts(doc, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib missing, no charts", file=sys.stderr)
        return []
    charts = []
    impls = list(doc["implementations"])

    def med(case, impl, key):
        e = doc["results"].get(case, {}).get(impl, {})
        m = e.get("median") or {}
        return m.get(key) if "failed" not in m else None

    def grouped(ax, groups, key, scale=1.0, log=False):
        present = [i for i in impls if any(med(g, i, key) is not None for g in groups)]
        if not present:
            return False
        width = 0.8 / len(present)
        for j, impl in enumerate(present):
            vals = [(med(g, impl, key) or 0) * scale for g in groups]
            xs = [x + (j - (len(present) - 1) / 2) * width for x in range(len(groups))]
            ax.bar(xs, vals, width, label=impl, color=COLORS.get(impl))
        ax.set_xticks(range(len(groups)))
        if log:
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
        return True

    names = {c["name"] for c in doc["cases"]}
    title_suffix = f" — {doc['machine'].get('cpu_model', '')}, {doc['timestamp_utc']}"

    # 1. throughput by message size
    sizes = [n for n in ("echo-64B", "echo-1KiB", "echo-16KiB", "echo-100KiB") if n in names]
    if sizes:
        fig, axes = plt.subplots(1, 2, figsize=(13, 5))
        ok = grouped(axes[0], sizes, "rps", log=True)
        grouped(axes[1], sizes, "mib_s")
        if ok:
            labels = [n.replace("echo-", "") for n in sizes]
            axes[0].set_xticklabels(labels)
            axes[1].set_xticklabels(labels)
            axes[0].set_title("Echo throughput, 100 connections: requests/s (log)")
            axes[1].set_title("Echo throughput, 100 connections: MiB/s")
            axes[0].set_xlabel("message size")
            axes[1].set_xlabel("message size")
            axes[1].legend(fontsize=8)
            fig.suptitle("Throughput by message size" + title_suffix, fontsize=10)
            fig.tight_layout()
            fig.savefig(outdir / "throughput_by_size.png", dpi=110)
            charts.append("throughput_by_size.png")
        plt.close(fig)

    # 2. all load cases relative to libuv (those it takes part in)
    load = [c["name"] for c in doc["cases"] if case_method(c) == "load" and med(c["name"], REF_CEILING, "rps")]
    if load:
        fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(load) + 3), 5))
        present = [i for i in impls if any(med(c, i, "rps") is not None for c in load)]
        width = 0.8 / max(1, len(present))
        for j, impl in enumerate(present):
            vals = []
            for c in load:
                v, ref = med(c, impl, "rps"), med(c, REF_CEILING, "rps")
                vals.append(v / ref if v and ref else 0)
            xs = [x + (j - (len(present) - 1) / 2) * width for x in range(len(load))]
            ax.bar(xs, vals, width, label=impl, color=COLORS.get(impl))
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_xticks(range(len(load)))
        ax.set_xticklabels(load, rotation=20, ha="right")
        ax.set_ylabel("requests/s relative to raw libuv")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title("Throughput relative to raw libuv" + title_suffix, fontsize=10)
        fig.tight_layout()
        fig.savefig(outdir / "relative_throughput.png", dpi=110)
        charts.append("relative_throughput.png")
        plt.close(fig)

    # 3. latency percentiles
    lat_cases = [n for n in ("echo-1KiB", "echo-64B-p16", "http-c100") if n in names]
    if lat_cases:
        fig, axes = plt.subplots(1, len(lat_cases), figsize=(5.5 * len(lat_cases), 5), squeeze=False)
        for ax, case in zip(axes[0], lat_cases):
            present = [i for i in impls if med(case, i, "p50_us") is not None]
            pcts = [("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9")]
            width = 0.8 / max(1, len(present))
            for j, impl in enumerate(present):
                vals = [med(case, impl, k) or 0 for k, _ in pcts]
                xs = [x + (j - (len(present) - 1) / 2) * width for x in range(len(pcts))]
                ax.bar(xs, vals, width, label=impl, color=COLORS.get(impl))
            ax.set_xticks(range(len(pcts)))
            ax.set_xticklabels([p for _, p in pcts])
            ax.set_yscale("log")
            ax.set_ylabel("latency (µs, log)")
            ax.set_title(case)
            ax.grid(axis="y", alpha=0.3)
        axes[0][-1].legend(fontsize=8)
        fig.suptitle("Latency percentiles" + title_suffix, fontsize=10)
        fig.tight_layout()
        fig.savefig(outdir / "latency.png", dpi=110)
        charts.append("latency.png")
        plt.close(fig)

    # 4. server CPU per request (user + system stacked)
    cpu_cases = [n for n in ("echo-64B", "echo-1KiB", "echo-64B-p16", "readline-1KiB", "http-c100")
                 if n in names]
    if cpu_cases:
        fig, axes = plt.subplots(1, len(cpu_cases), figsize=(4.6 * len(cpu_cases), 5), squeeze=False)
        for ax, case in zip(axes[0], cpu_cases):
            present = [i for i in impls if med(case, i, "cpu_total_us") is not None]
            users = [med(case, i, "cpu_user_us") or 0 for i in present]
            syss = [med(case, i, "cpu_sys_us") or 0 for i in present]
            ax.bar(range(len(present)), users, label="user", color="#1f77b4")
            ax.bar(range(len(present)), syss, bottom=users, label="system", color="#ff7f0e")
            ax.set_xticks(range(len(present)))
            ax.set_xticklabels(present, rotation=35, ha="right", fontsize=8)
            ax.set_ylabel("server CPU µs per request")
            ax.set_title(case)
            ax.grid(axis="y", alpha=0.3)
        axes[0][0].legend(fontsize=8)
        fig.suptitle("Server CPU time per request" + title_suffix, fontsize=10)
        fig.tight_layout()
        fig.savefig(outdir / "cpu_per_request.png", dpi=110)
        charts.append("cpu_per_request.png")
        plt.close(fig)

    # 5. callgrind instructions per request
    cg = [c["name"] for c in doc["cases"] if case_method(c) == "callgrind"]
    if cg:
        fig, ax = plt.subplots(figsize=(max(7, 2.4 * len(cg) + 2), 5))
        if grouped(ax, cg, "ir_per_request"):
            ax.set_xticklabels([n.replace("callgrind-", "") for n in cg])
            ax.set_ylabel("user-space instructions per request")
            ax.legend(fontsize=8)
            ax.set_title("Instructions per request, steady state (callgrind)" + title_suffix, fontsize=10)
            fig.tight_layout()
            fig.savefig(outdir / "instructions_per_request.png", dpi=110)
            charts.append("instructions_per_request.png")
        plt.close(fig)
    return charts
