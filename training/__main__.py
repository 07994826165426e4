"""`python -m training COMMAND`: prepare the face cache, draw degradation montages, train, evaluate, export."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
DEFAULT_CACHE = Path(__file__).resolve().parents[1] / "cache" / "faces128"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="detect, align and describe every face photo once")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--limit", type=int, help="only the first N photos (for a quick try)")
    args = parser.parse_args(argv)

    if args.command == "prepare":
        from training.data.prepare import prepare

        summary = prepare(args.data, args.out, args.workers, args.limit)
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
