"""Run every benchmark once at a size that fits a few minutes each: `make bench` (full sizes: run each script).

Each script prints its own figures and its baseline from the same run; this only runs them in turn.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = [
    ["bench/pipeline.py", "--pages", "180"],
    ["bench/poll.py", "--feeds", "2000"],
    ["bench/load.py", "--urls", "2000", "--hosts", "200"],
    ["-m", "bench.store", "--docs", "100000", "--batch", "1000"],
    ["-m", "bench.dedup_quality"],
    ["-m", "bench.dedup_speed", "--sizes", "10000,100000", "--datasketch", "10000", "--queries", "500"],
    ["bench/crosslingual.py"],
]


def main() -> int:
    failed = 0
    for args in RUNS:
        print(f"\n=== python {' '.join(args)}", flush=True)
        failed += subprocess.run([sys.executable, *args], cwd=ROOT).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
