"""Chart of flash-sale runs: taps/s and p99 against concurrency, one line per database.

Reads the JSON files ``bench.flash_sale --json`` wrote (in-process runs; the
``--workers`` runs are tabled in docs/performance.md instead) and draws the
framework's ceiling of each run beside it. Needs matplotlib (the optional
``bench`` extra).

    python -m bench.chart docs/performance/runs/*-c*.json -o docs/performance/taps_per_s.png
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # after choosing the backend

COLOURS = {"sqlite": "tab:blue", "postgresql": "tab:orange"}
P99_TARGET_MS = 250


def load(paths: list[Path]) -> dict[str, list[dict]]:
    """In-process runs by database, sorted by concurrency."""
    runs: dict[str, list[dict]] = defaultdict(list)
    for path in paths:
        figures = json.loads(path.read_text())
        if not figures.get("workers"):
            runs[figures["db"]].append(figures)
    return {db: sorted(found, key=lambda f: f["concurrency"]) for db, found in runs.items()}


def draw(runs: dict[str, list[dict]], out: Path, title: str) -> None:
    fig, (rate, p99) = plt.subplots(1, 2, figsize=(11, 4.2))
    for db, found in sorted(runs.items()):
        xs = [f["concurrency"] for f in found]
        colour = COLOURS.get(db)
        rate.plot(xs, [f["taps_per_s"] for f in found], "o-", color=colour, label=f"{db}: Buy taps")
        rate.plot(xs, [f["ceiling_taps_per_s"] for f in found], "x--", color=colour, alpha=0.6,
                  label=f"{db}: PTB ceiling (same run)")
        p99.plot(xs, [f["p99_ms"] for f in found], "o-", color=colour, label=db)
    ticks = sorted({f["concurrency"] for found in runs.values() for f in found})
    for axis in (rate, p99):
        axis.set_xscale("log", base=2)
        axis.set_xticks(ticks, [str(t) for t in ticks])
        axis.set_xlabel("concurrent buyers (closed loop)")
        axis.grid(True, alpha=0.3)
    rate.set_ylabel("taps per second")
    rate.set_ylim(bottom=0)
    rate.legend(fontsize=8)
    p99.axhline(P99_TARGET_MS, color="grey", linestyle=":", label=f"target {P99_TARGET_MS} ms")
    p99.set_yscale("log")
    p99.set_ylabel("p99 tap → answer (ms)")
    p99.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="JSON files written by bench.flash_sale --json")
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/performance/taps_per_s.png"))
    parser.add_argument("--title", default="Flash sale through the real bot, 2 shared cores")
    args = parser.parse_args(argv)
    runs = load(args.runs)
    if not runs:
        print("no in-process runs among the files", file=sys.stderr)
        return 1
    draw(runs, args.out, args.title)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
