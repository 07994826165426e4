"""`python -m training prepare`: detect and align every face photo once, with the app's own code.

For each photo of the shared face set it stores the 128 x 128 aligned crop (the same template and code as
`frstudio.core`), its 68 landmarks in crop coordinates, a face mask (landmark outline, brows raised to the
forehead), identity / split / age / gender from the manifest, a sharpness score, a yaw estimate, and dlib's
128-d descriptor. Photos where no face is found are dropped and counted.

The work is split into shards of SHARD_SIZE photos, each written atomically when done, so an interrupted run
resumes where it stopped; `--workers` processes share the shards. When all shards exist they are merged into
flat arrays (`crops.npy`, `landmarks.npy`, `masks.npy`, `descriptors.npy`, memory-mappable) and `faces.csv`.
"""

from __future__ import annotations

import csv
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from frstudio.core.imageio import float_to_uint8

# sharpness and yaw: the measures the app also ranks a user's reference photos by (one definition)
from frstudio.core.references import face_sharpness, yaw_proxy

SHARD_SIZE = 500
CROP = 128
META_FIELDS = ["file", "source", "identity", "age", "gender", "split", "sharpness", "yaw", "eye_distance", "score"]


@dataclass
class ManifestRow:
    file: str
    source: str
    identity: str
    age: str
    gender: str
    split: str


def read_manifest(data: Path) -> list[ManifestRow]:
    with open(data / "manifest.csv", newline="", encoding="utf-8") as fh:
        return [ManifestRow(r["file"], r["source"], r["identity"], r["age"], r["gender"], r["split"]) for r in csv.DictReader(fh)]


def face_mask(landmarks_crop: np.ndarray, size: int = CROP) -> np.ndarray:
    """Hard face mask (uint8 0/1) in the crop: the app's blend outline (jaw + raised brows)."""
    from frstudio.core.blend import face_outline

    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(face_outline(landmarks_crop) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask


def _process_shard(data: str, rows: list[ManifestRow], out_path: str) -> dict:
    from PIL import Image

    from frstudio.core.align import align_face, transform_points
    from frstudio.core.detect import DetectionSettings, detect_faces
    from frstudio.core.identity import face_descriptor

    # HOG alone, as every cache so far was built: the evaluations' "spread" faces are picked by cache row, so a
    # detector that finds other faces would change which test faces every protocol's numbers are measured on
    settings = DetectionSettings(min_eye_distance=16, threads=1, detector="hog")
    crops, lms, masks, descs, meta = [], [], [], [], []
    dropped = 0
    for row in rows:
        try:
            with Image.open(Path(data) / row.file) as im:
                rgb = np.asarray(im.convert("RGB"))
        except OSError:
            dropped += 1
            continue
        faces = detect_faces(rgb, settings)
        if not faces:
            dropped += 1
            continue
        h, w = rgb.shape[:2]
        # the photo's subject: the largest face, ties broken by closeness to the centre
        face = max(faces, key=lambda f: (f.eye_distance, -abs(f.centre[0] - w / 2) - abs(f.centre[1] - h / 2)))
        aligned = align_face(rgb, face.landmarks, CROP)
        crop = float_to_uint8(aligned.image)
        lm = transform_points(face.landmarks, aligned.matrix).astype(np.float32)
        crops.append(crop)
        lms.append(lm)
        masks.append(face_mask(lm))
        descs.append(face_descriptor(rgb, face.landmarks))
        meta.append([row.file, row.source, row.identity, row.age, row.gender, row.split, round(face_sharpness(crop), 2), round(yaw_proxy(lm), 4), round(face.eye_distance, 2), round(face.score, 3)])
    tmp = out_path + ".part.npz"
    np.savez(
        tmp,
        crops=np.array(crops, np.uint8).reshape(-1, CROP, CROP, 3),
        landmarks=np.array(lms, np.float32).reshape(-1, 68, 2),
        masks=np.array(masks, np.uint8).reshape(-1, CROP, CROP),
        descriptors=np.array(descs, np.float32).reshape(-1, 128),
        meta=np.array(json.dumps(meta)),
    )
    os.replace(tmp, out_path)
    return {"kept": len(crops), "dropped": dropped}


def prepare(data: Path, out: Path, workers: int = 2, limit: int | None = None) -> dict:
    from tqdm import tqdm

    rows = read_manifest(data)
    if limit:
        rows = rows[:limit]
    shards_dir = out / "shards"
    shards_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for i in range(0, len(rows), SHARD_SIZE):
        path = shards_dir / f"shard_{i // SHARD_SIZE:05d}.npz"
        if not path.exists():
            jobs.append((str(data), rows[i : i + SHARD_SIZE], str(path)))
    start = time.time()
    if jobs:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_process_shard, *job) for job in jobs]
            with tqdm(total=sum(len(j[1]) for j in jobs), unit="photo", desc="prepare") as bar:
                for fut in as_completed(futures):
                    result = fut.result()
                    bar.update(result["kept"] + result["dropped"])
    summary = merge(out, rows)
    summary["seconds"] = round(time.time() - start, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def merge(out: Path, rows: list[ManifestRow]) -> dict:
    """Flatten the shards into memory-mappable arrays and faces.csv; count kept faces per source and split."""
    shards = sorted((out / "shards").glob("shard_*.npz"))
    parts = [np.load(p) for p in shards]
    meta = [m for p in parts for m in json.loads(str(p["meta"]))]
    for key in ("crops", "landmarks", "masks", "descriptors"):
        arrays = [p[key] for p in parts]
        total = sum(len(a) for a in arrays)
        target = np.lib.format.open_memmap(out / f"{key}.part.npy", mode="w+", dtype=arrays[0].dtype, shape=(total, *arrays[0].shape[1:]))
        at = 0
        for a in arrays:
            target[at : at + len(a)] = a
            at += len(a)
        target.flush()
        del target
        os.replace(out / f"{key}.part.npy", out / f"{key}.npy")
    with open(out / "faces.csv.part", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(META_FIELDS)
        writer.writerows(meta)
    os.replace(out / "faces.csv.part", out / "faces.csv")
    table: dict[str, dict[str, dict[str, int]]] = {}
    for r in rows:
        cell = table.setdefault(r.source, {}).setdefault(r.split, {"photos": 0, "faces": 0})
        cell["photos"] += 1
    for m in meta:
        table[m[1]][m[5]]["faces"] += 1
    for splits in table.values():
        for cell in splits.values():
            cell["dropped"] = cell["photos"] - cell["faces"]
    return {"photos": len(rows), "faces": len(meta), "dropped": len(rows) - len(meta), "by_source_split": table}
