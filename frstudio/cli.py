"""The `frstudio` command: restore, detect, models; with no arguments it opens the desktop app, and with a photo's
path alone (`frstudio PHOTO`, what a file manager runs for "Open with FR Studio") it opens the app on that photo.
`frstudio --self-test` checks the installation without a window.

Exit codes: 0 everything done; 1 some photos failed; 2 bad command line (unknown model, bad option values, a
reference photo that cannot be used) or unreadable input for `detect`; 3 no usable model (weights missing or
corrupt); 130 cancelled with Ctrl-C. Faces are numbered from 1, as `detect` prints them and the app shows them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_NO_MODEL, EXIT_CANCELLED = 0, 1, 2, 3, 130


def _faces_arg(text: str) -> frozenset[int]:
    """Face numbers as people see them (from 1) -> the engine's face indices (from 0)."""
    try:
        numbers = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 1:
        raise argparse.ArgumentTypeError("--faces takes face numbers from 1 (as 'frstudio detect' prints them) separated by commas, e.g. 1,3")
    return frozenset(n - 1 for n in numbers)


def _strength_arg(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("--strength must be between 0 and 1")
    return value


def _quality_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError("--quality must be between 1 and 100")
    return value


# One detector, the ensemble (dlib's HOG and BlazeFace): no option may find fewer faces than the default, so HOG
# alone is left to the detection benchmark. frstudio.core.detect.DEFAULT_MIN_EYE_DISTANCE (not imported: the CLI
# starts without numpy).
MIN_FACE = 10.0
MIN_FACE_HELP = "smallest eye distance in px to look for (default 10; 6 finds the tiniest faces of group photos, slower)"


def _min_face_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("--min-face must be more than 0 pixels")
    return value


def _variants_arg(text: str) -> int:
    from frstudio.core.variants import MAX_VARIANTS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_VARIANTS:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_VARIANTS}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from frstudio import __version__
    from frstudio.core.scratches import DEFAULT_MODE
    from frstudio.gui.options import add_gui_arguments  # Qt-free: the parser never loads Qt

    parser = argparse.ArgumentParser(prog="frstudio", description="Restore the faces in old, blurry or dark photos.")
    parser.add_argument("--version", action="version", version=f"FR Studio {__version__}")
    parser.add_argument("--self-test", action="store_true", help="check this installation without a window: load the "
                        "bundled models, restore the sample photo into a temporary folder, verify the result")
    sub = parser.add_subparsers(dest="command")

    r = sub.add_parser("restore", help="restore photos or folders of photos")
    r.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="photos or folders")
    r.add_argument("-o", "--output", type=Path, help="folder for the results (default: next to each photo)")
    r.add_argument("--model", default="auto", help="model name (see 'frstudio models'); default: auto")
    refs = r.add_mutually_exclusive_group()
    refs.add_argument("--reference", type=Path, help="a good photo of the same person, for models that take one "
                      "(with several faces, the one most like each face is used)")
    refs.add_argument("--reference-dir", type=Path, metavar="FOLDER", help="a folder of good photos: with Auto, each "
                      "person there is learned from their photos (as --personalize); with a guided model, each face gets "
                      "its own person's best one; faces with nobody there use the default model")
    r.add_argument("--personalize", action="store_true",
                   help="with --reference-dir: learn each person from their photos there (about a minute per person, "
                        "once: kept for next time) and restore their faces with what was learned, where it measures better")
    r.add_argument("--strength", type=_strength_arg, default=1.0, help="0 = original, 1 = fully restored (default 1)")
    r.add_argument("--faces", type=_faces_arg, help="only these faces, numbered from 1 as 'frstudio detect' prints them, e.g. 1,3")
    r.add_argument("--recursive", action="store_true", help="include sub-folders of folders")
    r.add_argument("--format", choices=["jpeg", "jpg", "png", "tiff", "tif", "webp", "bmp"], help="output format (default: same as input)")
    r.add_argument("--quality", type=_quality_arg, default=95, help="JPEG/WebP quality, 1-100 (default 95)")
    r.add_argument("--suffix", default="_restored", help="added to the file name (default _restored)")
    r.add_argument("--compare", action="store_true", help="also save a side-by-side before/after image")
    r.add_argument("--crops", action="store_true", help="also save each face's before/after crops")
    r.add_argument("--no-metadata", action="store_true", help="do not copy EXIF and the colour profile")
    r.add_argument("--skip-no-face", action="store_true", help="write nothing for photos without faces (default: copy them)")
    r.add_argument("--overwrite", action="store_true", help="redo results that already exist (default: skip them)")
    r.add_argument("--tone", choices=["auto", "match", "model"], default="auto",
                   help="match: pull each restored face's brightness and colour to the photo's; model: keep the "
                        "model's; auto (default): match, but where the model found faces badly lit and relit them, "
                        "give the whole photo their new light, so a brightened face is not a lit oval in a dark scene")
    r.add_argument("--mask", choices=["auto", "outline"], default="auto",
                   help="auto (default): blend through the face mask the model predicts, if it predicts one; "
                        "outline: through the landmark outline")
    r.add_argument("--variants", type=_variants_arg, default=1, metavar="N",
                   help="stochastic models (vq_unet): restore each face N times (seeds 0..N-1, at most 8), keep the "
                        "one most like the person (and the reference photo, if given) and save all N beside the "
                        "photo, most faithful first (default 1)")
    r.add_argument("--scratches", choices=["off", "auto", "on"], default=None,
                   help="remove scratches, cracks and dust across the whole photo before restoring the faces: auto "
                        "repairs a photo where the detector finds marks, on repairs whatever it finds (default: "
                        f"{DEFAULT_MODE})")
    r.add_argument("--scratch-strength", type=_strength_arg, default=None, metavar="S",
                   help="0-1: how readily a faint line is taken for a scratch (default 0.5)")
    r.add_argument("--restore-colours", action="store_true",
                   help="restore the levels and white balance of a faded print, on the whole photo, first (off by "
                        "default: it also changes the colours of photos that did not fade)")
    r.add_argument("--damage-mask", action="store_true", help="also save what was taken for scratches and dust, as <name>_damage.png (white = marked)")
    r.add_argument("-v", "--verbose", action="store_true", help="one line per face: model, what it found (noise, blur, low light), its size and its sharpness against the input's")
    r.add_argument("--min-face", type=_min_face_arg, default=None, help=MIN_FACE_HELP)

    d = sub.add_parser("detect", help="list the faces in a photo")
    d.add_argument("path", type=Path)
    d.add_argument("--json", action="store_true", help="print boxes and landmarks as JSON")
    d.add_argument("--min-face", type=_min_face_arg, default=None, help=MIN_FACE_HELP)

    m = sub.add_parser("models", help="the models: what each is for, and whether its weights are bundled")
    m.add_argument("--json", action="store_true", help="everything, with the technical names and test metrics")
    m.add_argument("--details", action="store_true", help="also each model's technical name, sizes and test metrics")

    add_gui_arguments(parser)  # `frstudio --open PHOTO ...` opens the app like `frstudio gui --open PHOTO ...`
    add_gui_arguments(sub.add_parser("gui", help="open the desktop app"))
    return parser


def _detection(args):
    from frstudio.core.detect import SMALL_FACES_MIN_EYE_DISTANCE, DetectionSettings, small_faces_settings

    min_face = MIN_FACE if args.min_face is None else args.min_face
    settings = DetectionSettings(min_eye_distance=min_face)
    if min_face <= SMALL_FACES_MIN_EYE_DISTANCE:  # the app's Find Small Faces: BlazeFace scans finer too
        settings.blaze_max_scan_megapixels = small_faces_settings().blaze_max_scan_megapixels
    return settings


def cmd_detect(args) -> int:
    from frstudio.core.detect import detect_faces, smallest_found_eye_distance
    from frstudio.core.errors import FRStudioError
    from frstudio.core.imageio import load_photo, to_uint8

    try:
        photo = load_photo(args.path)
    except FRStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    settings = _detection(args)
    faces = detect_faces(to_uint8(photo.pixels), settings)
    width, height = photo.size
    if args.json:
        numbered = [{"face": f.index + 1, **{k: v for k, v in f.to_json().items() if k != "index"}} for f in faces]
        print(json.dumps({"path": str(args.path), "width": width, "height": height, "faces": numbered}))
    else:
        print(f"{args.path.name}: {width} x {height}, {len(faces)} face(s)")
        for f in faces:
            x0, y0, x1, y1 = f.box
            how = f", found by {f.detector}" + (" (turned too far for landmarks: aligned by its eyes, nose and mouth)" if f.profile else "")
            print(f"  face {f.index + 1}: box ({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f}), eye distance {f.eye_distance:.0f} px, score {f.score:.2f}{how}")
        floor = smallest_found_eye_distance(width, height, settings)
        if floor > settings.min_eye_distance + 0.5:
            print(f"  (in a photo this large, faces under ~{floor:.0f} px between the eyes may be missed)")
    return EXIT_OK


def cmd_models(args) -> int:
    from frstudio.core.restore import default_model, model_statuses

    statuses = model_statuses()
    # the table's first model is the default; no other takes its place when its weights are missing
    default = statuses[0].spec.name if statuses and statuses[0].available else None
    if args.json:
        print(json.dumps({"default": default, "models": [s.to_json() for s in statuses]}, indent=2))
        return EXIT_OK
    for s in statuses:
        state = "ready" if s.available else ("not implemented yet" if not s.implemented else "no trained weights bundled")
        mark = "*" if s.spec.name == default else " "
        ref = ", needs a reference photo" if s.spec.takes_reference else ""
        print(f"{mark} {s.spec.name:16s} {s.spec.title} - {state}{ref}")
        print(f"{'':19s}{s.spec.description}")
        if args.details:
            print(f"{'':19s}{s.spec.technical or s.spec.name}, {s.spec.input_size} -> {s.spec.output_size} px faces")
            for protocol, m in s.entry.get("metrics", {}).items():
                inp, out = m.get("input", {}), m.get("output", {})
                shown = ", ".join(f"{k} {inp.get(k, float('nan')):.3g}->{v:.3g}" for k, v in out.items() if isinstance(v, (int, float)))
                print(f"{'':21s}{protocol} (n={m.get('n')}): {shown}")
    if default_model() is None:
        print("No trained weights are bundled yet: 'frstudio restore' cannot restore faces in this version.")
    elif default is None:
        print(f"The default model, {statuses[0].spec.name}, has no weights here: 'frstudio restore' needs --model.")
    return EXIT_OK


def _default_learns() -> bool:
    """Whether Auto's model can learn a person from their photos (frstudio.core.personal)."""
    from frstudio.core.errors import FRStudioError
    from frstudio.core.personal import tunable
    from frstudio.core.pipeline import resolve_model

    try:
        return tunable(resolve_model("auto"))
    except FRStudioError:
        return False


def _restore_options(args):
    from frstudio.core.pipeline import RestoreOptions

    return RestoreOptions(
        model=args.model,
        strength=args.strength,
        faces=args.faces,
        reference=args.reference,
        reference_dir=args.reference_dir,
        output_dir=args.output,
        suffix=args.suffix,
        format=args.format,
        quality=args.quality,
        keep_metadata=not args.no_metadata,
        compare=args.compare,
        save_crops=args.crops,
        no_faces="skip" if args.skip_no_face else "copy",
        overwrite=args.overwrite,
        match_tone={"auto": None, "match": True, "model": False}[args.tone],
        use_model_mask=args.mask == "auto",
        variants=args.variants,
        personalize=args.personalize,
        detection=_detection(args),
        scratches=_scratches(args),
        damage_mask=args.damage_mask,
        faded_colours=args.restore_colours,
    )


def _scratches(args):
    from frstudio.core.scratches import DEFAULT_MODE, DEFAULT_STRENGTH, ScratchSettings

    strength = DEFAULT_STRENGTH if args.scratch_strength is None else args.scratch_strength
    return ScratchSettings(args.scratches or DEFAULT_MODE, strength)


def cmd_restore(args) -> int:
    from tqdm import tqdm

    from frstudio.core.errors import FRStudioError, ModelUnavailableError, WeightsError
    from frstudio.core.jobs import CancelToken, drive
    from frstudio.core.pipeline import RestorerCache, restore_batch
    from frstudio.core.restore import get_spec, model_statuses

    options = _restore_options(args)
    problem = _command_line_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    missing = [p for p in args.paths if not p.exists()]
    for p in missing:
        print(f"error: {p}: no such file or folder", file=sys.stderr)
    given = "--reference" if args.reference is not None else "--reference-dir" if args.reference_dir is not None else None
    if args.personalize:
        pass  # the folder is for learning each person, which the default model does: no note about guided models
    elif given and args.model == "auto":
        # a reference says what the user wants: a folder, each person learned from it; one photo, the
        # reference-guided model, when one is bundled and its tests show the reference helping
        # (routing.reference_helps); otherwise Auto restores as without it, and says so
        from frstudio.core.routing import trusted_guided

        statuses = model_statuses()
        guided = [s.spec.name for s in statuses if s.available and s.spec.takes_reference]
        trusted = [name for name in guided if name in trusted_guided(statuses)]
        if given == "--reference-dir" and _default_learns():
            # a folder of a person's photos: what measures best with it is the default model learned from them
            # (README, "Learn this person": closer to the person on every damage tested, at the same PSNR)
            options.personalize = True
            print(f"note: Auto learns each person from their photos in {args.reference_dir.name} (about a minute per "
                  "person, once: kept for next time); add --model frrnet to restore without them", file=sys.stderr)
        elif trusted:
            options.model = trusted[0]
        elif guided:
            print(f"note: {guided[0]} is not yet measured to help on every kind of damage it was tested on (old-photo "
                  f"damage among them), so Auto does not use {given}; add --model {guided[0]} to restore guided by it",
                  file=sys.stderr)
        else:
            print(f"note: no reference-guided model is bundled; {given} is ignored", file=sys.stderr)
    elif given and args.model != "passthrough":
        try:
            if not get_spec(args.model).takes_reference:
                print(f"note: {args.model} does not use a reference photo; {given} is ignored", file=sys.stderr)
        except FRStudioError:
            pass
    if args.variants > 1 and args.model != "passthrough":
        try:
            if args.model == "auto" or not get_spec(args.model).stochastic:
                stochastic = [s.spec.name for s in model_statuses() if s.spec.stochastic]
                print(f"note: --variants is for a stochastic model ({', '.join(stochastic)}): choose it with --model; "
                      f"{args.model} gives one restoration per face", file=sys.stderr)
        except FRStudioError:
            pass
    cancel = CancelToken()
    bar = None

    def show(event) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=event.total, unit="photo", file=sys.stderr, dynamic_ncols=True, disable=None)
        if event.progress is not None and event.progress.message.startswith("warning"):
            tqdm.write(event.progress.message, file=sys.stderr)  # before the face is restored
        if event.progress is not None and event.progress.path is not None:
            p = event.progress
            bar.set_postfix_str(f"{p.path.name}: {p.stage}" + (f" {p.face}/{p.faces}" if p.faces else ""), refresh=False)
        if event.result is not None:
            bar.update(1)
            r = event.result
            if r.status == "failed" or (r.message and r.status != "skipped"):
                tqdm.write(f"{r.status}: {r.message}", file=sys.stderr)

    try:
        results = drive(restore_batch([p for p in args.paths if p.exists()], options, RestorerCache(), cancel, args.recursive), show)
    except FRStudioError as exc:
        if bar:
            bar.close()
        print(f"error: {exc}", file=sys.stderr)
        # 3 only for a model that cannot be used; anything else before the first photo (a reference photo
        # without a face) is a problem with what the command line gave
        return EXIT_NO_MODEL if isinstance(exc, (WeightsError, ModelUnavailableError)) else EXIT_USAGE
    except KeyboardInterrupt:
        cancel.cancel()
        if bar:
            bar.close()
        print("cancelled: finished photos are kept; run the same command again to resume", file=sys.stderr)
        return EXIT_CANCELLED
    if bar:
        bar.close()
    return _summary(results, len(missing), args.verbose)


def _command_line_problem(args) -> str:
    """What is wrong with the command line before anything runs (exit 2), or ""."""
    from frstudio.core.errors import FRStudioError
    from frstudio.core.pipeline import is_auto
    from frstudio.core.restore import get_spec

    if args.output is not None and args.output.exists() and not args.output.is_dir():
        return f"{args.output} is a file, not a folder"
    if args.reference is not None and not args.reference.is_file():
        return f"{args.reference}: no such photo (--reference)"
    if args.reference_dir is not None and not args.reference_dir.is_dir():
        return f"{args.reference_dir}: no such folder (--reference-dir)"
    if args.personalize and args.reference_dir is None:
        return "--personalize learns each person from a folder of their good photos: add --reference-dir FOLDER"
    if _scratches(args).mode == "off" and (args.damage_mask or args.scratch_strength is not None):
        flag = "--damage-mask saves what" if args.damage_mask else "--scratch-strength tunes how"
        return f"{flag} scratch removal finds: add --scratches auto or --scratches on"
    if is_auto(args.model) or args.model == "passthrough":
        return ""
    try:
        spec = get_spec(args.model)
    except FRStudioError as exc:
        return str(exc)
    if spec.takes_reference and args.reference is None and args.reference_dir is None:
        return f"{spec.name} needs a reference photo of the same person: add --reference PHOTO or --reference-dir FOLDER"
    return ""


def _found(verdict: dict[str, float]) -> str:
    from frstudio.core.restore import verdict_words

    words = verdict_words(verdict)
    return "found " + ", ".join(words) if words else "looked clean"


def _softer(face) -> bool:
    from frstudio.core.quality import SOFTER_THAN_INPUT

    return face.sharpness is not None and face.sharpness < SOFTER_THAN_INPUT


def _sharpness(face) -> str:
    """', sharpness 0.98x the input's', or a warning when the result is softer than the input."""
    if face.sharpness is None:
        return ""
    if _softer(face):
        return f"; softer than the input ({face.sharpness:.2f}x its sharpness): try a lower --strength or another model"
    return f", sharpness {face.sharpness:.2f}x the input's"


def _summary(results, missing: int, verbose: bool = False) -> int:
    from collections import Counter

    counts = Counter(r.status for r in results)
    faces = sum(sum(1 for f in r.faces if f.restored) for r in results)
    parts = [f"{counts['restored']} restored ({faces} face{'' if faces == 1 else 's'})"]
    for status, words in (("no_faces", "without faces"), ("skipped", "already done"), ("failed", "failed"), ("cancelled", "cancelled")):
        if counts[status]:
            parts.append(f"{counts[status]} {words}")
    if missing:
        parts.append(f"{missing} not found")
    print(", ".join(parts))
    for r in results:
        if r.output is not None and r.status == "no_faces" and r.whole_photo:
            print(f"  {r.source} -> {r.output}\n    {r.whole_photo}")
        if r.output is not None and r.status == "restored":
            print(f"  {r.source} -> {r.output}")
            if r.whole_photo:
                print(f"    {r.whole_photo}")
            if r.note:
                print(f"    {r.note} (--tone match keeps the photo's own light)")
            for f in r.faces:  # with references: which face used which, and which fell back
                if f.reference:
                    print(f"    face {f.index + 1}: {f.model} guided by {f.reference}")
                elif f.restored and f.message:
                    print(f"    face {f.index + 1}: {f.model}, {f.message}")
                elif f.restored and f.variants:
                    others = ", ".join(f"{v.score:.2f}" for v in f.variants[1:])
                    print(f"    face {f.index + 1}: {f.model}, kept {f.variants[0].describe()} of {len(f.variants)} "
                          f"(the others, in order: {others})")
                elif f.restored and (verbose or _softer(f)):
                    # the eye distance says why "auto" chose this model (tiny faces: the 16 -> 128 one)
                    found = f", {_found(f.verdict)}" if f.verdict else ""
                    print(f"    face {f.index + 1}: {f.model}{found} (eyes {f.eye_distance:.0f} px apart){_sharpness(f)}")
    return EXIT_SOME_FAILED if counts["failed"] or missing else EXIT_OK


def cmd_gui(args) -> int:
    try:
        from frstudio.gui.app import run
    except ImportError as exc:
        print(f"The desktop app is not available in this installation ({exc}). Use 'frstudio restore PHOTO'.", file=sys.stderr)
        return EXIT_USAGE
    from frstudio.gui.options import GuiOptions

    return run(options=GuiOptions.from_args(args))


COMMANDS = ("restore", "detect", "models", "gui")


def photo_as_open(argv: list[str]) -> list[str]:
    """`frstudio PHOTO [...]` means `frstudio --open PHOTO [...]`: a file manager opens a photo with the app this
    way (the .desktop entry's `%f`). Only a first word that is no command and names a file or an image is taken
    for a photo, so a mistyped command still gets argparse's "invalid choice" message."""
    if not argv or argv[0].startswith("-") or argv[0] in COMMANDS:
        return argv
    from frstudio.core.pipeline import IMAGE_SUFFIXES

    first = Path(argv[0])
    if first.is_file() or first.suffix.lower() in IMAGE_SUFFIXES:
        return ["--open", *argv]
    return argv


def main(argv: list[str] | None = None) -> int:
    from frstudio.core.imageio import use_engine_pixel_limit

    parser = build_parser()
    args = parser.parse_args(photo_as_open(sys.argv[1:] if argv is None else list(argv)))
    use_engine_pixel_limit()
    if args.self_test:
        from frstudio.selftest import run_self_test

        return run_self_test()
    commands = {"restore": cmd_restore, "detect": cmd_detect, "models": cmd_models, "gui": cmd_gui}
    if args.command is None:
        return cmd_gui(args)
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
