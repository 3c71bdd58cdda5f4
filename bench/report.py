#!/usr/bin/python3
"""Regenerate results.md and the charts from a results.json alone.

    /usr/bin/python3 bench/report.py bench/results/latest/results.json [--out DIR]

Writes them next to results.json (or into --out).  Nothing is measured.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchsuite.report import write_report


# ---- programs: the API gateway and the crawler (bench/programs/gateway_*,
# crawler_*). Their figures live in programs-gateway.json and
# programs-crawler.json beside results.json; this block adds them to
# results.md. ------------------------------------------------------------------
def append_programs_gateway_crawler(results_dir, md_path):
    lines = []
    gw = results_dir / "programs-gateway.json"
    if gw.is_file():
        d = json.loads(gw.read_text())
        lines += ["", "## Programs: API gateway (examples/api_gateway vs examples/python/api_gateway.py)", "",
                  f"`{d['command']}` ({d['when']}): wrk -t1 -c{d['setup']['conns']} {d['setup']['duration_s']} s, "
                  f"{d['setup']['request']}, to {d['setup']['backend']}; medians of {d['setup']['repeats']}; "
                  f"load average {d.get('load_average_1min', 0):.1f}.", "",
                  "| gateway | req/s | p99 (ms) | CPU per request (us) |", "|---|---:|---:|---:|"]
        for name, m in d["medians"].items():
            lines.append(f"| {name} | {m['rps']:,.0f} | {m['p99_us'] / 1000:.2f} | {m['cpu_us_per_request']:.1f} |")
        cg = d.get("callgrind")
        if cg:
            lines += ["", "Instructions per request (callgrind, user space, http_count -c10): " +
                      ", ".join(f"{name} {m['ir_per_request']:,.0f}" for name, m in cg.items()) + "."]
        lines += ["", "| ratio | req/s | p99 | CPU per request | instructions per request |",
                  "|---|---:|---:|---:|---:|"]
        for label, r in d["ratios"].items():
            ir = f"x{r['ir_per_request']:.3f}" if "ir_per_request" in r else ""
            lines.append(f"| {label} | x{r['rps']:.2f} | x{r['p99']:.3f} | x{r['cpu_per_request']:.3f} | {ir} |")
        t = d["target"]
        lines += ["", f"Target: {t['what']} >= {t['limit']:g}: **{'met' if t['met'] else 'missed'}** "
                      f"(x{t['value']:.2f})."]
    cr = results_dir / "programs-crawler.json"
    if cr.is_file():
        d = json.loads(cr.read_text())
        st = d["setup"]
        lines += ["", "## Programs: crawler (examples/crawler vs examples/python/crawler.py)", "",
                  f"`{d['command']}` ({d['when']}): {st['pages']} pages, {st['delay_ms']} ms per response, "
                  f"{st['concurrency']} at once: ideal {st['ideal_pages_s']:,.0f} pages/s; "
                  f"medians of {st['repeats']}; load average {d.get('load_average_1min', 0):.1f}.", "",
                  "| crawler | pages/s | of the ideal | of wrk -c20 | CPU per page (us) |", "|---|---:|---:|---:|---:|"]
        for name, m in d["medians"].items():
            cpu = f"{m['cpu_us_per_page']:.0f}" if "cpu_us_per_page" in m else ""
            lines.append(f"| {name} | {m['pages_s']:,.0f} | {d['of_ideal'][name]:.3f} | "
                         f"{d['of_wrk_c20'][name]:.3f} | {cpu} |")
        t = d["target"]
        lines += ["", f"Target: {t['what']} >= {t['limit']:g}: **{'met' if t['met'] else 'missed'}** "
                      f"({t['value']:.3f})."]
    if lines and md_path.is_file():
        with md_path.open("a") as f:
            f.write("\n".join(lines) + "\n")
# ---- end of programs: the API gateway and the crawler ----------------------------


def main():
    ap = argparse.ArgumentParser(description="results.md and charts from results.json (bench/README.md)")
    ap.add_argument("results", help="a results.json written by bench/suite.py")
    ap.add_argument("--out", help="directory for results.md and the charts (default: beside results.json)")
    args = ap.parse_args()
    path = Path(args.results)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        sys.exit(f"report: cannot read {path}: {e}")
    outdir = Path(args.out) if args.out else path.parent
    outdir.mkdir(parents=True, exist_ok=True)
    charts = write_report(doc, outdir)
    append_programs_gateway_crawler(path.parent, outdir / "results.md")
    print(f"report: wrote {outdir / 'results.md'}" + (f" and {', '.join(charts)}" if charts else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
