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
    p = sub.add_parser("degradations", help="draw a montage of every degradation pipeline on test faces")
    p.add_argument("--montage", type=Path, required=True, help="the PNG to write")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="faces from its test split; without a "
                   "cache, faces cut from resources/samples/astronaut.jpg")
    p.add_argument("--n", type=int, default=4, help="number of faces (rows)")
    p = sub.add_parser("loader-speed", help="batches per second of the training loader")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--split", default="train")
    p.add_argument("--pipelines", nargs="+", default=["frrnet", "bfr-severe"])
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--batches", type=int, default=30, help="timed batches per setting")
    args = parser.parse_args(argv)

    if args.command == "prepare":
        from training.data.prepare import prepare

        summary = prepare(args.data, args.out, args.workers, args.limit)
        print(json.dumps(summary, indent=2))
    elif args.command == "degradations":
        from training import montage

        if (args.cache / "crops.npy").is_file():
            from training.data.dataset import FaceCache

            faces = montage.cache_faces(FaceCache(args.cache), args.n)
        else:
            sample = Path(__file__).resolve().parents[1] / "resources" / "samples" / "astronaut.jpg"
            print(f"no face cache at {args.cache}: using faces from {sample}")
            faces = montage.sample_faces(sample, args.n)
        montage.write_montage(args.montage, montage.degradation_montage(faces))
        print(f"wrote {args.montage} ({len(faces)} faces x {len(montage.montage_columns())} columns)")
    elif args.command == "loader-speed":
        from training.data.dataset import DegradedFaces, FaceCache, loader_throughput

        cache = FaceCache(args.cache)
        rows = cache.indices(args.split)
        print(f"{cache}: {len(rows)} {args.split} faces, batch {args.batch}, {args.batches} timed batches")
        print(f"{'pipeline':<14}{'workers':>8}{'batches/s':>11}{'ms/batch':>10}")
        for name in args.pipelines:
            for workers in args.workers:
                speed = loader_throughput(DegradedFaces(cache, rows, name), args.batch, workers, args.batches)
                print(f"{name:<14}{workers:>8}{speed:>11.2f}{1000 / speed:>10.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
