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
    p.add_argument("--mix", metavar="PIPELINE", help="instead: draws of one training mix per face, e.g. restore-mix")
    p.add_argument("--draws", type=int, default=8, help="with --mix: draws per face (columns)")
    p = sub.add_parser("samples", help="a grid of degraded input / model output / ground truth")
    p.add_argument("model")
    p.add_argument("--out", type=Path, required=True, help="the PNG to write")
    p.add_argument("--protocols", nargs="+", default=["frrnet"])
    p.add_argument("--n", type=int, default=8, help="number of faces (rows)")
    p.add_argument("--weights", type=Path, help="a folder of exported weights to show instead of the shipped ones")
    p.add_argument("--cache", type=Path, help="faces spread over its test split (dataset photos: do not commit "
                   "the grid); without it, faces cut from resources/samples/astronaut.jpg (public domain)")
    p = sub.add_parser("table", help="compare trained variants (runs): size, CPU speed, metrics per protocol")
    p.add_argument("model")
    p.add_argument("--run", type=Path, action="append", required=True, help="a run folder (repeat)")
    p.add_argument("--protocols", nargs="+", default=["frrnet", "seed003-128", "frrnet-lowlight", "frrnet-train"])
    p.add_argument("--spread", type=int, help="N test faces spread over the split (default: all)")
    p.add_argument("--speed-runs", type=int, default=10)
    p.add_argument("--json", type=Path, required=True, help="everything measured")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--record", action="store_true", help="store the metrics of the run whose weights are the "
                   "shipped ones in resources/weights/manifest.json")
    p.add_argument("--from-json", action="store_true", help="do not measure again: print (and --record) --json")
    p = sub.add_parser("loader-speed", help="batches per second of the training loader")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--split", default="train")
    p.add_argument("--pipelines", nargs="+", default=["frrnet", "bfr-severe"])
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--batches", type=int, default=30, help="timed batches per setting")
    p.add_argument("--torch-threads", type=int, help="torch threads of this process (workers use 1); with "
                   "workers 0 the batch is collated here, and on a busy machine 2 threads can stall it")
    p = sub.add_parser("train", help="train (or resume) a model's recipe")
    p.add_argument("model")
    p.add_argument("--config", type=Path, help="JSON file of training/architecture overrides")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides, e.g. steps=8000 batch=32")
    p.add_argument("--hours", type=float, help="time budget for this session: stop cleanly and checkpoint")
    p.add_argument("--steps", type=int, help="stop at this step (default: the recipe's)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init-from", type=Path, metavar="RUN_DIR", help="fine-tune: start from another run's checkpoint "
                   "(its EMA weights), or from shipped weights (resources/weights/MODEL.safetensors), with fresh "
                   "optimisers and schedule; the export counts both runs' steps")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--run-dir", type=Path, help="default: runs/<model>")
    p.add_argument("--val-every", type=int, default=500)
    p = sub.add_parser("evaluate", help="test-split metrics of a shipped model beside its degraded input")
    p.add_argument("model")
    p.add_argument("--protocol", required=True, help="seed003-128, frrnet, bfr-severe, ...; 'verification' for faceid")
    p.add_argument("--limit", type=int, help="only the first N test faces")
    p.add_argument("--spread", type=int, help="N test faces spaced evenly over the split (all sources and ages)")
    p.add_argument("--json", type=Path, help="write the report here")
    p.add_argument("--grid", type=Path, help="write input / output / ground truth for 8 faces here (with a "
                   "reference: input / reference / warped reference / output / ground truth)")
    p.add_argument("--reference", choices=["same", "random", "none"], default="same", help="for reference-guided models")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--record", action="store_true", help="store the numbers in the manifest (of --weights, or resources/weights)")
    p.add_argument("--weights", type=Path, help="evaluate the weights in this folder (an export --out) instead of the shipped ones")
    p.add_argument("--by-category", action="store_true", help="also break the metrics down by pose, age group, gender, "
                   "source and low detector score (printed as a table, stored in --json under 'categories')")
    p = sub.add_parser("export", help="ship a run's EMA weights (fp16 safetensors) with a manifest entry")
    p.add_argument("model")
    p.add_argument("--run-dir", type=Path, help="default: runs/<model>")
    p.add_argument("--data", default="shared faces, train split (cache/faces128)", help="training data, for the card")
    p.add_argument("--device", default="cpu (2 cores, bf16 autocast)", help="where it was trained, for the card")
    p.add_argument("--out", type=Path, help="write weights + manifest entry to this folder instead of resources/weights")
    p.add_argument("--blend-with", type=Path, metavar="RUN_DIR|WEIGHTS", help="network interpolation: blend the run's "
                   "weights with this run's or these exported weights' (same network; e.g. resources/weights/frrnet.safetensors), "
                   "--alpha of the run's")
    p.add_argument("--alpha", type=float, default=1.0, help="with --blend-with: the run's share, 0 to 1 (default 1)")
    p = sub.add_parser("prior", help="a stylegan_prior run's random samples: a grid and FD-dlib against the test faces")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--grid", type=Path, default=Path("prior_samples.png"))
    p.add_argument("--json", type=Path, help="write the report here")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p = sub.add_parser("tiny-threshold", help="the eye distance below which progressive_16 beats FRR-Net on identity "
                       "(frstudio.core.routing.TINY_FACE_EYE_DISTANCE)")
    p.add_argument("--distances", type=float, nargs="+", help="eye distances in px (default 4 6 8 10 12 14 16 20 24 32)")
    p.add_argument("--models", nargs="+", default=["frrnet", "progressive_16"], help="the crossover compares "
                   "progressive_16 with the first other model given")
    p.add_argument("--spread", type=int, default=200, help="N test faces spaced evenly over the split (0: all)")
    p.add_argument("--weights", type=Path, help="a weights folder (an export --out): its models are taken from it, "
                   "the others from resources/weights")
    p.add_argument("--device", help="cpu or cuda (default: cuda where there is one)")
    p.add_argument("--seed", type=int, default=0, help="of the camera noise")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--json", type=Path, help="write everything measured here (per-face values too)")
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
        if args.mix:
            montage.write_montage(args.montage, montage.mix_montage(faces, args.mix, args.draws))
            print(f"wrote {args.montage} ({len(faces)} faces x {args.draws} draws of {args.mix})")
        else:
            montage.write_montage(args.montage, montage.degradation_montage(faces))
            print(f"wrote {args.montage} ({len(faces)} faces x {len(montage.montage_columns())} columns)")
    elif args.command == "loader-speed":
        import torch

        from training.data.dataset import DegradedFaces, FaceCache, loader_throughput

        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        cache = FaceCache(args.cache)
        rows = cache.indices(args.split)
        print(f"{cache}: {len(rows)} {args.split} faces, batch {args.batch}, {args.batches} timed batches, "
              f"{torch.get_num_threads()} torch threads in this process")
        print(f"{'pipeline':<14}{'workers':>8}{'batches/s':>11}{'ms/batch':>10}")
        for name in args.pipelines:
            for workers in args.workers:
                speed = loader_throughput(DegradedFaces(cache, rows, name), args.batch, workers, args.batches)
                print(f"{name:<14}{workers:>8}{speed:>11.2f}{1000 / speed:>10.1f}", flush=True)
    elif args.command == "train":
        return _train(args)
    elif args.command == "samples":
        from frstudio.core.paths import sample_photo
        from frstudio.core.restore import Restorer
        from training import montage

        if args.cache is not None:
            from training.data.dataset import FaceCache

            faces = montage.cache_faces(FaceCache(args.cache), args.n)
        else:
            faces = montage.sample_faces(sample_photo(), args.n)
        montage.write_montage(args.out, montage.restoration_grid(faces, Restorer(args.model, directory=args.weights), args.protocols))
        print(args.out)
    elif args.command == "table":
        from training.evaluate import write_json
        from training.table import compare, markdown

        if args.from_json:
            table = json.loads(args.json.read_text())
        else:
            table = compare(args.model, args.run, args.protocols, args.cache, args.spread, args.speed_runs)
            write_json(args.json, table)
            args.json.with_suffix(".md").write_text(markdown(table) + "\n")
        print(markdown(table))
        if args.record:
            from training.table import record_shipped

            print("recorded in the manifest:", ", ".join(record_shipped(table)) or "nothing (no run holds the shipped weights)")
    elif args.command == "evaluate":
        return _evaluate(args)
    elif args.command == "tiny-threshold":
        return _tiny_threshold(args)
    elif args.command == "prior":
        from training.evaluate import write_json
        from training.loop import save_png
        from training.recipes.stylegan_prior import measure_prior

        report, grid = measure_prior(args.run_dir, args.cache, args.samples)
        save_png(grid, args.grid)
        if args.json:
            write_json(args.json, report)
        print(json.dumps(report, indent=2))
    elif args.command == "export":
        from training.export import export

        if not 0.0 <= args.alpha <= 1.0:
            parser.error("--alpha must be between 0 and 1")
        entry = export(args.model, args.run_dir or RUNS / args.model, args.data, args.device, args.out,
                       blend_with=args.blend_with, alpha=args.alpha)
        print(json.dumps({k: v for k, v in entry.items() if k != "metrics"}, indent=2))
    return 0


RUNS = Path(__file__).resolve().parents[1] / "runs"


def _overrides(args) -> dict:
    overrides = json.loads(args.config.read_text()) if args.config else {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def _train(args) -> int:
    from training.loop import LoopSettings, train
    from training.recipes import load_recipe

    recipe = load_recipe(args.model)(args.cache, args.device, _overrides(args))
    settings = LoopSettings(
        run_dir=args.run_dir or RUNS / args.model,
        hours=args.hours,
        max_steps=args.steps,
        resume=args.resume,
        init_from=args.init_from,
        seed=recipe.config.seed,
        val_every=args.val_every,
    )
    train(recipe, settings)
    return 0


def _evaluate(args) -> int:
    from training.evaluate import category_table, evaluate_faceid, evaluate_restorer, markdown_table, write_json
    from training.export import record_metrics

    if args.model == "faceid":
        report = evaluate_faceid(args.cache, grid=args.grid)
        print(json.dumps(report, indent=2))
        protocol = "verification"
    else:
        report = evaluate_restorer(args.model, args.protocol, args.cache, args.limit, grid=args.grid, reference=args.reference,
                                   weights=args.weights, spread=args.spread, by_category=args.by_category)
        print(markdown_table(report))
        if "categories" in report:
            print("\nby category (input → output):\n")
            print(category_table(report))
            print("\n" + "\n".join(f"{k}: {v}" for k, v in report["category_rules"].items()))
        protocol = args.protocol
    if args.json:
        write_json(args.json, report)
    if args.record:
        record_metrics(args.model, protocol, report, args.weights)
    return 0


def _tiny_threshold(args) -> int:
    from training.evaluate import write_json
    from training.tiny_faces import DISTANCES, Camera, markdown, measure

    def progress(d, done, total):
        print(f"\rd = {d:g} px: {done}/{total} faces", end="" if done < total else "\n", file=sys.stderr, flush=True)

    report = measure(args.cache, args.distances or DISTANCES, args.models, args.spread or None, args.weights,
                     args.device, Camera(seed=args.seed), progress=progress)
    print(markdown(report))
    if args.json:
        write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
