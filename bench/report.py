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
    print(f"report: wrote {outdir / 'results.md'}" + (f" and {', '.join(charts)}" if charts else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
