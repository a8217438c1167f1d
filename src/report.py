"""`python -m src.report <sweep folder>`: (re)build summary.csv, summary.md and summary.png of a sweep.

Works on any sweep folder (`logs/train/multiruns/<time>`), finished or still running: finished jobs
show their metrics, failed ones their error, the others `running`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from src.outputs.sweep_report import write_summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.report", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a sweep folder (Hydra's hydra.sweep.dir)")
    parser.add_argument("--quiet", action="store_true", help="do not print summary.md")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"Error: {args.sweep_dir}: no such folder", file=sys.stderr)
        return 2
    result = write_summary(args.sweep_dir)
    if not result["jobs"]:
        print(f"Error: {args.sweep_dir}: no run folders (subfolders with .hydra/) found", file=sys.stderr)
        return 2
    if not args.quiet:
        print((args.sweep_dir / "summary.md").read_text())
    written = ["summary.csv", "summary.md"] + (["summary.png"] if result["png"] else [])
    print("Wrote " + ", ".join(str(args.sweep_dir / n) for n in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
