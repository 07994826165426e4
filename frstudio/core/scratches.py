"""Scratches, cracks and dust across a whole photo (issue 22): find them, then fill them.

* :func:`damage_probability` runs the damage detector (`frstudio.models.damage_net`) over a photo of any size,
  one tile at a time, and returns the probability that each pixel is a mark;
* :func:`repair` fills the marked pixels from their surroundings (OpenCV's inpainting, refined by the learned fill
  of `frstudio.models.fill_net` where one is bundled) and leaves every other pixel as it was;
* :func:`load_damage_network` is the bundled, sha256-checked detector (`resources/weights/damage.safetensors`),
  :func:`load_fill_network` the learned fill (None where none is bundled);
* :func:`remove_scratches` is what the CLI, the batch and the app call: detect, decide (Off / Auto / On), repair.

Both work on the engine's pixels: H x W x 3 uint8 or uint16 RGB (a grey photo as R == G == B), or H x W grey.
Memory stays bounded by the tile, not the photo: the only photo-sized arrays are the result (float32
probabilities, or the repaired copy) and the mask. No Qt and no training code here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DAMAGE_WEIGHTS = "damage"  # the detector's name in resources/weights/manifest.json
FILL_WEIGHTS = "fill"  # the learned fill's (frstudio.models.fill_net); used where it is bundled
THRESHOLD = 0.5  # probability above which a pixel is taken for a mark
TILE = 512  # detector tile side (rounded down to the network's stride); ~0.3 MP at a time
# Context around each tile that the network sees but whose output is dropped. 16 px: on the 12 MP test mosaic
# (benchmarks/damage.py) the marks' IoU is 0.650 as with 32 px, and detection takes 1.61 s instead of 1.92 s.
OVERLAP = 16
INPAINT_RADIUS = 3.0  # px: the inpainting's neighbourhood; marks are thin, a small radius keeps the fill local
INPAINT_METHOD = cv2.INPAINT_NS  # see _inpaint
REPAIR_TILE = 1024
REPAIR_MARGIN = 64  # context around each repair tile: more than any mark is wide, so tiles never show
MODES = ("off", "auto", "on")
DEFAULT_MODE = "off"  # what the CLI, the batch and the app start with
DEFAULT_STRENGTH = 0.5  # the detector's own operating point, THRESHOLD
# "Auto" repairs a photo only when marks the detector is sure of (probability above AUTO_SURE) cover at least
# AUTO_MIN_SHARE of it. On 300 test photos (benchmarks/damage.py) that repairs 97 % of the marked ones and 20 % of
# the unmarked ones, most of those coarse halftone screens; counting every pixel above THRESHOLD instead, 48 %.
AUTO_SURE = 0.9
AUTO_MIN_SHARE = 0.002
# Marks lying wholly inside the eyes and mouths of the faces found are left to the face models: there the detector's
# few false marks on clean photos sit on what people look at first (a catchlight, a tooth's highlight, an earring
# by the mouth), and the face models, trained with dust in their mix, clean a real speck there. A mark that reaches
# outside them (a scratch across a face) is repaired whole: left to the face model, the part of a crack by the
# mouth stayed. Each feature's landmarks are grown by this share of the face's eye distance.
FEATURE_MARGIN = 0.2
LEFT_EYE, RIGHT_EYE, MOUTH = slice(36, 42), slice(42, 48), slice(48, 68)


def threshold_for(strength: float) -> float:
    """The detector's probability threshold at a user's strength in [0, 1]: 0.5 (its operating point) at the
    default 0.5; stronger takes fainter lines for marks (down to 0.2), weaker only the surest ones (up to 0.8)."""
    strength = min(max(float(strength), 0.0), 1.0)
    return 0.8 - 0.6 * strength


@dataclass(frozen=True)
class ScratchSettings:
    """What the user chose: "off", "auto" (repair when the photo shows marks) or "on" (repair what is found),
    and a strength in [0, 1] (see :func:`threshold_for`)."""

    mode: str = DEFAULT_MODE
    strength: float = DEFAULT_STRENGTH

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"scratch removal must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not 0.0 <= float(self.strength) <= 1.0:
            raise ValueError(f"scratch removal strength must be between 0 and 1, not {self.strength}")


@dataclass
class ScratchResult:
    pixels: np.ndarray  # the repaired photo, or the input itself when nothing was repaired
    mask: np.ndarray  # H x W bool: what the detector marked (repaired or not)
    share: float  # of the photo's pixels marked
    repaired: bool

    def describe(self) -> str:
        """One line for people: what was done about scratches and dust."""
        if self.repaired:
            return f"scratches and dust removed ({_percent(self.share)} of the photo)"
        if self.share > 0:
            return f"no scratches to remove (only {_percent(self.share)} of the photo looked marked)"
        return "no scratches or dust found"


def _percent(share: float) -> str:
    return f"{share * 100:.2f} %" if share < 0.001 else f"{share * 100:.1f} %"


def _check_pixels(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        raise ValueError(f"expected H x W x 3 RGB or H x W grey pixels, got shape {pixels.shape}")
    return pixels


def _windows(length: int, step: int, margin: int):
    """(start, end, window start, window end) of each tile along one axis: tiles of `step` from 0, each with up
    to `margin` of context on either side, cut at the photo's edges."""
    for start in range(0, length, step):
        end = min(start + step, length)
        yield start, end, max(0, start - margin), min(length, end + margin)


def _tiles(h: int, w: int, step: int, margin: int):
    for y0, y1, wy0, wy1 in _windows(h, step, margin):
        for x0, x1, wx0, wx1 in _windows(w, step, margin):
            yield (slice(y0, y1), slice(x0, x1)), (slice(wy0, wy1), slice(wx0, wx1)), (slice(y0 - wy0, y1 - wy0), slice(x0 - wx0, x1 - wx0))


def load_damage_network(device: str = "cpu", directory: Path | None = None):
    """The bundled damage detector (eval mode), after checking its sha256 against the manifest."""
    import torch

    from frstudio.core.restore import load_verified_state
    from frstudio.models import damage_net

    config, state, _ = load_verified_state(DAMAGE_WEIGHTS, directory, title="the scratch and dust detector")
    net = damage_net.build(config)
    net.load_state_dict(state)
    return net.eval().requires_grad_(False).to(device).to(memory_format=torch.channels_last)


def load_fill_network(device: str = "cpu", directory: Path | None = None):
    """The bundled learned fill (eval mode, sha256-checked), or None where none is bundled: the fill is then
    OpenCV's alone."""
    import torch

    from frstudio.core.restore import load_verified_state, read_manifest
    from frstudio.models import fill_net

    if FILL_WEIGHTS not in read_manifest(directory):
        return None
    config, state, _ = load_verified_state(FILL_WEIGHTS, directory, title="the scratch fill")
    net = fill_net.build(config)
    net.load_state_dict(state)
    return net.eval().requires_grad_(False).to(device).to(memory_format=torch.channels_last)


def _network_tiles(network, h: int, w: int, tile: int, overlap: int) -> list:
    """`_tiles` for a network: tile sides and context rounded to its stride, so every tile sees the pixel grid the
    whole photo would give it."""
    stride = int(getattr(network, "stride", 1))
    step = max(stride, int(tile) // stride * stride)
    return list(_tiles(h, w, step, -(-max(0, int(overlap)) // stride) * stride))


def _run_context(network, bf16: bool):
    """Inference mode, with bf16 autocast on the network's device when asked."""
    import torch

    autocast = torch.autocast(next(network.parameters()).device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    stack = contextlib.ExitStack()
    stack.enter_context(torch.inference_mode())
    stack.enter_context(autocast)
    return stack


def _network_input(array: np.ndarray, network):
    """1 x 3 x h x w float32 in [0, 1] on the network's device (channels last) from 8- or 16-bit pixels, a grey
    H x W array repeated in the three channels."""
    import torch

    x = torch.from_numpy(array.astype(np.float32) / (255.0 if array.dtype == np.uint8 else 65535.0))
    x = x[None].expand(3, *x.shape) if x.ndim == 2 else x.permute(2, 0, 1)
    return x[None].to(next(network.parameters()).device).contiguous(memory_format=torch.channels_last)


def damage_probability(pixels: np.ndarray, network, tile: int = TILE, overlap: int = OVERLAP, bf16: bool = False,
                       progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """H x W float32 in [0, 1]: the probability that each pixel of `pixels` is a scratch, crack, speck or spot.

    `network` maps N x 3 x h x w images in [0, 1] to N x 1 x h x w logits (`frstudio.models.damage_net`, in eval
    mode; it is not changed). The photo is cut into tiles of `tile` px, each run with `overlap` px of the photo
    around it (rounded up to the network's stride) whose output is dropped, so a tile's border never shows as a
    seam; tile corners sit on multiples of the stride, so the network sees the same pixel grid as on the whole
    photo. One tile is in memory at a time. `bf16`: autocast on the CPU (faster where the CPU has it in hardware,
    `frstudio.core.restore.cpu_has_native_bf16`). `progress(done, total)` is called after each tile; an exception
    it raises stops the work (cancelling)."""
    import torch

    pixels = _check_pixels(pixels)
    h, w = pixels.shape[:2]
    out = np.empty((h, w), np.float32)
    tiles = _network_tiles(network, h, w, tile, overlap)
    with _run_context(network, bf16):
        for done, (core, window, inner) in enumerate(tiles, 1):
            prob = torch.sigmoid(network(_network_input(pixels[window], network)).float())[0, 0]
            out[core] = prob[inner].cpu().numpy()
            if progress is not None:
                progress(done, len(tiles))
    return out


def grow_mask(mask: np.ndarray, grow: int = 1) -> np.ndarray:
    """`mask` (H x W bool) grown by `grow` pixels in every direction (a square neighbourhood)."""
    mask = np.asarray(mask, bool)
    if grow <= 0:
        return mask.copy()
    kernel = np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)
    return cv2.dilate(mask.view(np.uint8), kernel).astype(bool)


def _inpaint(window: np.ndarray, holes: np.ndarray, radius: float) -> np.ndarray:
    # OpenCV's inpainting rather than our own: a well-kept library routine, good enough for what it is given here,
    # thin lines and small specks whose surroundings are photo. Of its two methods, Navier-Stokes (Bertalmio et al.
    # 2001: isophotes carried into the hole) fills the test marks of benchmarks/damage.py closer to the clean photo
    # than Telea's fast marching (+0.6 dB inside the true marks at 1x, +1.0 dB at 2x) and is faster at 12 MP. A grey
    # photo is filled once, as one channel, so it stays exactly grey. OpenCV takes 8-bit 1- or 3-channel images and
    # 16-bit single channels, so a 16-bit colour photo is filled channel by channel.
    holes = holes.view(np.uint8)
    if window.ndim == 2:
        return cv2.inpaint(window, holes, radius, INPAINT_METHOD)
    if np.array_equal(window[..., 0], window[..., 1]) and np.array_equal(window[..., 1], window[..., 2]):
        grey = cv2.inpaint(np.ascontiguousarray(window[..., 0]), holes, radius, INPAINT_METHOD)
        return np.repeat(grey[..., None], 3, axis=2)
    if window.dtype == np.uint8:
        return cv2.inpaint(np.ascontiguousarray(window), holes, radius, INPAINT_METHOD)
    return np.stack([cv2.inpaint(np.ascontiguousarray(window[..., c]), holes, radius, INPAINT_METHOD) for c in range(3)], axis=2)


def repair(pixels: np.ndarray, mask: np.ndarray, radius: float = INPAINT_RADIUS, grow: int = 1,
           progress: Callable[[int, int], None] | None = None, fill=None, bf16: bool = False) -> np.ndarray:
    """A copy of `pixels` (same shape and dtype) with the pixels of `mask` (H x W bool, e.g.
    ``damage_probability(...) > THRESHOLD``) filled from their surroundings.

    The mask is first grown by `grow` pixels: a mark's anti-aliased edge, half covered, is below the detector's
    threshold but still visible. Only pixels of the grown mask change; every other pixel is returned exactly as
    it was. Works in tiles of REPAIR_TILE px with REPAIR_MARGIN px of context; tiles without a mark are skipped.
    `fill`: the learned fill (`load_fill_network`), which then refines OpenCV's fill (`refine_fill`).
    `progress(done, total)` is called after each tile with a mark."""
    pixels = _check_pixels(pixels)
    mask = np.asarray(mask)
    if mask.shape != pixels.shape[:2]:
        raise ValueError(f"the mask is {mask.shape}, the photo {pixels.shape[:2]}")
    holes = grow_mask(mask, grow)
    out = pixels.copy()
    tiles = [t for t in _tiles(*holes.shape, REPAIR_TILE, REPAIR_MARGIN) if holes[t[0]].any()]

    def inpaint_tile(tile):
        _, window, inner = tile
        return _inpaint(pixels[window], np.ascontiguousarray(holes[window]), radius)[inner]

    # OpenCV's inpainting runs on one core and releases Python's lock, so tiles are filled side by side, one per
    # core; a few at a time, so that finished tiles waiting to be written never add up to much memory.
    workers = max(1, min(len(tiles), os.cpu_count() or 1))
    done = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(tiles), 2 * workers):
            batch = tiles[start:start + 2 * workers]
            for (core, _, _), filled in zip(batch, pool.map(inpaint_tile, batch)):
                marked = holes[core]
                out[core][marked] = filled[marked]
                done += 1
                if progress is not None:
                    progress(done, len(tiles))
    if fill is not None:
        _refine_fill_into(pixels, out, holes, fill, bf16=bf16)
    return out


def refine_fill(scan: np.ndarray, filled: np.ndarray, holes: np.ndarray, network, tile: int = TILE,
                overlap: int = OVERLAP, bf16: bool = False) -> np.ndarray:
    """`filled` (the scan with `holes` filled by OpenCV) with the pixels of `holes` filled again by the learned
    fill (`frstudio.models.fill_net`), which sees the scan, OpenCV's fill and the holes. Tiled as
    `damage_probability`, only where there are holes; every pixel outside them stays as in `filled`. A grey photo
    gets the mean of the three output channels, so it stays grey."""
    out = _check_pixels(filled).copy()
    _refine_fill_into(scan, out, holes, network, tile, overlap, bf16)
    return out


def _refine_fill_into(scan: np.ndarray, filled: np.ndarray, holes: np.ndarray, network, tile: int = TILE,
                      overlap: int = OVERLAP, bf16: bool = False) -> None:
    """`refine_fill` into `filled` itself: no second photo-sized copy (150 MB at 50 MP). Every tile still sees
    OpenCV's fill around it, as on the whole photo: the learned pixels are kept aside (only the marks', a few
    percent of the photo) and written once all tiles have run."""
    import torch

    scan, filled = _check_pixels(scan), _check_pixels(filled)
    top = 255.0 if scan.dtype == np.uint8 else 65535.0
    grey = scan.ndim == 2 or (np.array_equal(scan[..., 0], scan[..., 1]) and np.array_equal(scan[..., 1], scan[..., 2]))
    device = next(network.parameters()).device
    learned = []
    with _run_context(network, bf16):
        for core, window, inner in _network_tiles(network, *scan.shape[:2], tile, overlap):
            marked = holes[core]
            if not marked.any():
                continue
            hole = torch.from_numpy(holes[window].astype(np.float32))[None, None].to(device)
            result = network(_network_input(scan[window], network), _network_input(filled[window], network), hole).float()[0]
            result = result.mean(0, keepdim=True) if grey else result
            result = (result.permute(1, 2, 0).cpu().numpy() * top).round().clip(0, top).astype(scan.dtype)[inner]
            if scan.ndim == 2:
                result = result[..., 0]
            elif grey:
                result = np.repeat(result, 3, axis=2)
            learned.append((core, marked, result[marked]))
    for core, marked, values in learned:
        filled[core][marked] = values


def feature_guard(shape: tuple[int, ...], faces_landmarks) -> np.ndarray | None:
    """H x W bool over the eyes and the mouth of each face (68 landmarks each), grown by FEATURE_MARGIN x its
    eye distance: where marks that do not reach outside are not repaired (the face models see to those). None: no
    faces."""
    faces_landmarks = [np.asarray(lm, np.float64) for lm in faces_landmarks]
    if not faces_landmarks:
        return None
    guard = np.zeros(shape[:2], np.uint8)
    for lm in faces_landmarks:
        eyes = np.linalg.norm(lm[LEFT_EYE].mean(0) - lm[RIGHT_EYE].mean(0))
        grow = max(1, int(round(FEATURE_MARGIN * eyes)))
        for part in (LEFT_EYE, RIGHT_EYE, MOUTH):
            hull = cv2.convexHull(np.round(lm[part]).astype(np.int32))
            cv2.fillConvexPoly(guard, hull, 1)
            cv2.polylines(guard, [hull], True, 1, thickness=2 * grow + 1)
    return guard.astype(bool)


def _crossing(mask: np.ndarray, guard: np.ndarray) -> np.ndarray:
    """`mask` without its connected marks (8-connected) that lie wholly inside `guard`."""
    count, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=8)
    reaching_out = np.zeros(count, bool)
    reaching_out[np.unique(labels[mask & ~guard])] = True
    reaching_out[0] = False  # the background
    return reaching_out[labels]


def marks(prob: np.ndarray, strength: float, extra: np.ndarray | None = None, erase: np.ndarray | None = None,
          guard: np.ndarray | None = None) -> np.ndarray:
    """H x W bool: the pixels taken for marks at `strength` but for marks wholly inside `guard` (`feature_guard`),
    with what the user painted as damage (`extra`) added and what they painted as not damage (`erase`) taken out."""
    mask = prob > threshold_for(strength)
    if guard is not None and (mask & guard).any():
        mask = _crossing(mask, guard)
    if extra is not None:
        mask |= np.asarray(extra, bool)
    if erase is not None:
        mask &= ~np.asarray(erase, bool)
    return mask


def looks_marked(prob: np.ndarray | None) -> bool:
    """Auto's test: marks the detector is sure of cover at least AUTO_MIN_SHARE of the photo."""
    return prob is not None and prob.size > 0 and float((prob > AUTO_SURE).mean()) >= AUTO_MIN_SHARE


def decide(mask: np.ndarray, mode: str, prob: np.ndarray | None = None, painted: bool = False) -> bool:
    """Whether to repair `mask` under `mode` (see :class:`ScratchSettings`): "on" whenever something is marked,
    "auto" when the photo looks marked (:func:`looks_marked` of the detector's `prob`) or the user painted marks."""
    if mode == "off" or not mask.any():
        return False
    return mode == "on" or painted or looks_marked(prob)


def repair_as_chosen(pixels: np.ndarray, mask: np.ndarray, mode: str, prob: np.ndarray | None = None,
                     painted: bool = False, progress: Callable[[int, int], None] | None = None, fill=None,
                     bf16: bool = False) -> ScratchResult:
    """Repair `mask` on `pixels` if :func:`decide` says so (`prob`: the detector's output, for Auto's test;
    `fill`: the learned fill, where one is bundled)."""
    share = float(mask.mean()) if mask.size else 0.0
    if not decide(mask, mode, prob, painted):
        return ScratchResult(pixels, mask, share, False)
    return ScratchResult(repair(pixels, mask, progress=progress, fill=fill, bf16=bf16), mask, share, True)


def remove_scratches(pixels: np.ndarray, network, settings: ScratchSettings, bf16: bool = False, faces_landmarks=(),
                     progress: Callable[[int, int], None] | None = None, detect_on: np.ndarray | None = None,
                     fill: tuple = (None, False)) -> ScratchResult:
    """Detect marks on `pixels` and repair them as `settings` say, leaving marks wholly inside the eyes and mouths
    of the faces at `faces_landmarks` (68 points each) to the face models (the CLI's and the batch's one call).
    `detect_on`: the pixels the detector looks at when they differ from the ones repaired (the scan as opened, when
    `pixels` had its faded colours restored: what the app does, so both find the same marks). `fill`: (the learned
    fill or None, bf16 for it), as `RestorerCache.fill_network` gives. `progress(done, total)` covers the
    detection's tiles."""
    if settings.mode == "off":
        return ScratchResult(pixels, np.zeros(np.shape(pixels)[:2], bool), 0.0, False)
    prob = damage_probability(pixels if detect_on is None else detect_on, network, bf16=bf16, progress=progress)
    guard = feature_guard(np.shape(pixels), faces_landmarks)
    return repair_as_chosen(pixels, marks(prob, settings.strength, guard=guard), settings.mode, prob, fill=fill[0], bf16=fill[1])
