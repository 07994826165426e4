"""Loading and saving photos: the engine's only door to image files. No Qt here.

Loading gives a :class:`Photo`: RGB pixels (uint8, or uint16 for 16-bit PNG/TIFF) with the EXIF
orientation already applied, the alpha channel apart, and the metadata needed to save the restored
version as a faithful sibling of the original. Everything that can go wrong with a user's file
becomes a :class:`~frstudio.core.errors.PhotoError` whose str() is one plain-words line.

Formats read: JPEG (baseline, progressive, CMYK, MPO first image), PNG (1-16 bit grey, grey+alpha,
RGB, RGBA, palette), TIFF (8/16-bit grey and RGB, with or without alpha, uncompressed/LZW/deflate/
JPEG), WebP, BMP and GIF (first frame). Pillow decodes everything except 16-bit colour PNG/TIFF
(Pillow would hand those back as 8-bit), which OpenCV decodes; Pillow still reads their metadata.

What metadata survives a save (``save_photo``, ``keep_metadata=True``)::

    written as   ICC profile   EXIF (date taken, camera, GPS, ...)   DPI    alpha   bit depth
    JPEG         yes           yes (*)                               yes    no      8
    PNG          yes (iCCP)    yes (eXIf chunk)                      yes    yes     8 or 16
    TIFF         yes           yes (IFD0 tags + Exif and GPS IFDs)   yes    yes     8 or 16
    WEBP         yes           yes                                   no     yes     8
    BMP          no            no                                    yes    no      8

- EXIF is carried with Orientation set to 1 (the pixels are already upright), the embedded
  thumbnail dropped (it would show the unrestored photo), and PixelX/YDimension set to the
  upright size. (*) A JPEG EXIF block over 64 KB (JPEG's limit) first loses its MakerNote,
  then, if still too big, is left out.
- ``keep_metadata=False`` writes neither ICC nor EXIF; the DPI is always kept, because it is the
  photo's print size, not private data. When the restored pixels are larger than the original
  (upscaling), the DPI is scaled by the same factor so the print size stays the same.
- A CMYK JPEG is converted to sRGB through its embedded profile (Pillow's plain formula when it
  has none); the photo then carries an sRGB profile, never the CMYK one.
- An ICC profile is only embedded where its colour space matches the pixels written (a grey
  profile is dropped when a grey photo has to be written as RGB, e.g. as WebP).
- Not carried anywhere: XMP, IPTC, Photoshop resources, PNG text chunks, GIF animation (the first
  frame is restored, and saved as PNG unless another format is asked for).
- A photo whose *file* is single-channel (``Photo.grey_mode``) is saved single-channel (8-bit L
  or LA, 16-bit grey) except as WebP (no grey mode there: RGB) and when it is 16-bit grey *with
  alpha* (OpenCV cannot write that PNG and Pillow cannot read that TIFF: 16-bit RGBA, three equal
  channels). The grey written is the luma of the restored RGB pixels.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms, TiffImagePlugin, UnidentifiedImageError

from frstudio.core.errors import PhotoError
from frstudio.core.files import atomic_write

__all__ = [
    "MAX_PIXELS",
    "Photo",
    "load_photo",
    "probe_photo",
    "to_uint8",
    "save_photo",
    "save_image",
    "atomic_write",
]

log = logging.getLogger(__name__)

# Refused before decoding (decompression bombs). Pillow has its own hard limit, twice
# PIL.Image.MAX_IMAGE_PIXELS (~179 MP by default), which importing this module does not change (it is
# process-wide); the app and the CLI call use_engine_pixel_limit() at start-up to let 179-200 MP scans through.
MAX_PIXELS = 200_000_000

_READ_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "TIFF": "TIFF", "WEBP": "WEBP", "BMP": "BMP", "GIF": "GIF"}
_WRITE_FORMATS = {"JPEG": "JPEG", "JPG": "JPEG", "PNG": "PNG", "TIFF": "TIFF", "TIF": "TIFF", "WEBP": "WEBP", "BMP": "BMP"}
_SUFFIX_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP", ".bmp": "BMP"}
_SIXTEEN_BIT_FORMATS = {"PNG", "TIFF"}
_ALPHA_FORMATS = {"PNG", "TIFF", "WEBP"}
_MAX_SIDE = {"JPEG": 65_535, "WEBP": 16_383}

_ORIENTATION = 0x0112
_EXIF_IFD, _GPS_IFD, _INTEROP_IFD = 0x8769, 0x8825, 0xA005
_MAKER_NOTE, _PIXEL_X_DIMENSION, _PIXEL_Y_DIMENSION = 0x927C, 0xA002, 0xA003
_JPEG_MAX_EXIF = 65533  # one APP1 marker segment

# TIFF tags that describe how pixels are stored (or are large blobs we do not carry) rather than the
# photo. A TIFF's "EXIF" as Pillow reads it is its whole first IFD, so these must be dropped, or a
# saved file would claim the original's strips, compression, tiles...
_STRUCTURAL_TIFF_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 288, 289, 290,
     291, 292, 293, 301, 317, 318, 319, 320, 321, 322, 323, 324, 325, 330, 332, 338, 339, 340, 341,
     347, 512, 513, 514, 515, 517, 518, 519, 520, 521, 529, 530, 531, 532, 700, 32997, 32998,
     33723, 34377, 34675, 37724}
)

# Sepia / toned prints: chroma left after fitting it as a smooth function of brightness, in 8-bit
# units (a fully saturated colour is ~128). JPEG and scanner chroma noise stays well below this.
_GREY_CHROMA_SPREAD = 8.0
_GREY_SAMPLES = 256 * 256

_TIFF_STRIP_BYTES = 256 * 1024
_DEFLATE_LEVEL = 6


@dataclass(eq=False)
class Photo:
    """A decoded photo plus what is needed to save its restored version alongside it."""

    path: Path
    format: str
    pixels: np.ndarray = field(repr=False)
    alpha: np.ndarray | None = field(repr=False)
    bit_depth: int
    is_grey: bool
    grey_mode: bool
    icc_profile: bytes | None = field(repr=False)
    exif: bytes | None = field(repr=False)  # "Exif\0\0" + TIFF structure, as Pillow's savers take it
    dpi: tuple[float, float] | None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the upright pixels."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def use_engine_pixel_limit() -> None:
    """Make Pillow's process-wide decompression-bomb limit match MAX_PIXELS (its own default refuses from
    ~179 MP and warns from ~89 MP). Called once at start-up by the app and the command line, not on import,
    so that importing the engine changes nothing global."""
    import warnings

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2 + 1  # Pillow refuses above twice this value
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def load_photo(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> Photo:
    """Decode a photo file; raise PhotoError with a one-line message if it cannot be used."""
    path = Path(path)
    _check_readable_file(path)
    try:
        return _load(path, max_pixels)
    except PhotoError:
        raise
    except MemoryError as e:
        raise PhotoError(f"{path.name}: not enough memory to open this photo") from e
    except Exception as e:
        # Decoders raise a zoo of types for damaged files (OSError, SyntaxError, ValueError,
        # EOFError, zlib.error, struct.error, cv2.error...). The promise to callers is that a bad
        # file only ever gives a PhotoError, so everything is translated here; the original stays
        # chained and logged for bug reports.
        log.debug("could not decode %s", path, exc_info=True)
        raise PhotoError(_decode_error_message(path, e)) from e


def probe_photo(path: str | os.PathLike) -> tuple[int, int, str]:
    """(width, height, format) from the header only, width and height as the photo is shown upright."""
    path = Path(path)
    _check_readable_file(path)
    try:
        with _open_image(path, max_pixels=None) as im:
            fmt = _supported_format(im, path)
            width, height = _upright_size(im.size, _read_orientation(im))
            return width, height, fmt
    except PhotoError:
        raise
    except Exception as e:
        raise PhotoError(_decode_error_message(path, e)) from e


def float_to_uint8(image: np.ndarray) -> np.ndarray:
    """Float pixels on the [0, 1] scale -> uint8, rounded to nearest (numpy's, half to even) and clipped to
    0..255: what a saved 8-bit file holds. The one conversion of float images to 8 bits, for the engine, the
    training package and the benchmarks alike."""
    return np.clip(np.round(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 rounded to nearest (65535 -> 255); uint8 is returned as is."""
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype != np.uint16:
        raise ValueError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")
    # (x + 128) // 257 equals round(x / 257) exactly for every uint16 value; uint32 avoids overflow.
    return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _check_readable_file(path: Path) -> None:
    name = path.name or str(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise PhotoError(f"{name}: the file does not exist (it may have been moved or deleted)") from None
    except PermissionError:
        raise PhotoError(f"{name}: permission denied; FR Studio is not allowed to read this file") from None
    except OSError as e:
        raise PhotoError(f"{name}: cannot be read ({e.strerror or e})") from None
    if path.is_dir():
        raise PhotoError(f"{name}: this is a folder, not a photo")
    if st.st_size == 0:
        raise PhotoError(f"{name}: the file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise PhotoError(f"{name}: permission denied; FR Studio is not allowed to read this file")


@contextmanager
def _open_image(path: Path, max_pixels: int | None) -> Iterator[Image.Image]:
    """Image.open (header only) with our size limit and our messages; closes the file afterwards.

    Pillow's warnings are left alone on purpose: silencing them needs warnings.catch_warnings,
    which swaps process-wide state and breaks when photos load in several threads at once.
    """
    try:
        im = Image.open(path)
    except Image.DecompressionBombError as e:  # over twice Image.MAX_IMAGE_PIXELS (~179 MP)
        raise PhotoError(_pillow_refused_message(path, e, max_pixels, 2 * (Image.MAX_IMAGE_PIXELS or 0))) from e
    except Image.DecompressionBombWarning as e:  # only raised when warnings are errors (-W error)
        raise PhotoError(_pillow_refused_message(path, e, max_pixels, Image.MAX_IMAGE_PIXELS or 0)) from e
    except UnidentifiedImageError as e:
        raise PhotoError(_unidentified_message(path)) from e
    with im:
        width, height = im.size
        if max_pixels is not None and width * height > max_pixels:
            raise PhotoError(_too_large_message(path, width * height, max_pixels))
        yield im


def _load(path: Path, max_pixels: int) -> Photo:
    with _open_image(path, max_pixels) as im:
        fmt = _supported_format(im, path)
        orientation = _read_orientation(im)
        exif = _read_exif(im, _upright_size(im.size, orientation))
        dpi = _read_dpi(im)
        icc = im.info.get("icc_profile") or None
        grey_file, needs_opencv = _source_layout(im, path)
        if needs_opencv:
            pixels, alpha = _decode_with_opencv(im, path, grey_file)
        else:
            if fmt == "PNG":
                _verify_png(path)
            pixels, alpha, icc = _decode_with_pillow(im, icc)
            grey_file = grey_file or pixels.ndim == 2

    pixels, alpha = _apply_orientation(pixels, alpha, orientation)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    pixels = np.ascontiguousarray(pixels)
    alpha = None if alpha is None else np.ascontiguousarray(alpha)
    return Photo(
        path=path,
        format=fmt,
        pixels=pixels,
        alpha=alpha,
        bit_depth=16 if pixels.dtype == np.uint16 else 8,
        is_grey=grey_file or _looks_grey(pixels),
        grey_mode=grey_file,
        icc_profile=icc,
        exif=exif,
        dpi=dpi,
    )


def _supported_format(im: Image.Image, path: Path) -> str:
    fmt = _READ_FORMATS.get(im.format or "")
    if fmt is None:
        raise PhotoError(
            f"{path.name}: {im.format or 'this'} images are not supported; "
            "FR Studio opens JPEG, PNG, TIFF, WebP, BMP and GIF"
        )
    return fmt


def _source_layout(im: Image.Image, path: Path) -> tuple[bool, bool]:
    """(the file is single-channel, pixels must come from OpenCV) from the header.

    Pillow's mode alone cannot say: it opens 16-bit RGB PNG/TIFF as 8-bit "RGB" and 16-bit grey+alpha
    PNG as 8-bit "RGBA", so the PNG IHDR and TIFF tags are read directly.
    """
    if im.format == "PNG":
        with open(path, "rb") as f:
            ihdr = f.read(26)
        bits, colour_type = ihdr[24], ihdr[25]
        grey = colour_type in (0, 4)
        return grey, bits == 16 and colour_type != 0  # 16-bit plain grey: Pillow's I;16 is exact
    if im.format == "TIFF":
        bits_tag = im.tag_v2.get(258, 1)
        bits = max(bits_tag) if isinstance(bits_tag, tuple) else int(bits_tag)
        grey = im.tag_v2.get(262) in (0, 1)
        # 16-bit CMYK stays with Pillow (8-bit), which knows how to make RGB of it.
        return grey, bits == 16 and im.mode in ("RGB", "RGBA", "LA")
    return im.mode in ("1", "L", "LA", "La"), False


def _verify_png(path: Path) -> None:
    # Walks every chunk and checks its CRC without decompressing (cheap), and raises if the file
    # is cut short. Pillow's decoder itself skips the CRCs of the image data, so without this a
    # damaged PNG can load as a silently wrong picture.
    with _open_image(path, max_pixels=None) as check:
        check.verify()


def _decode_with_pillow(im: Image.Image, icc: bytes | None) -> tuple[np.ndarray, np.ndarray | None, bytes | None]:
    """Pixels (H x W grey or H x W x 3 RGB), alpha, and the ICC profile that now describes the pixels."""
    im.load()  # truncated or corrupt data fails here (LOAD_TRUNCATED_IMAGES stays off)
    mode = im.mode
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16), None, icc
    if mode == "I":  # 16-bit grey from some encoders, or 32-bit integer TIFF
        values = np.asarray(im)
        if values.min() < 0 or values.max() > 65535:
            raise PhotoError(f"{_name(im)}: 32-bit integer images are not supported")
        return values.astype(np.uint16), None, icc
    if mode == "CMYK":
        return _cmyk_to_rgb(im, icc)
    if mode in ("1", "L") and "transparency" not in im.info:
        return np.asarray(im.convert("L")), None, icc
    if mode in ("L", "LA", "La"):
        la = np.asarray(im.convert("LA"))
        return la[..., 0], la[..., 1], icc
    if mode == "RGB" and "transparency" not in im.info:
        return np.asarray(im), None, icc
    if mode in ("RGBA", "RGBa", "PA") or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA"))
        return rgba[..., :3], rgba[..., 3], icc
    if mode in ("P", "RGBX", "YCbCr"):
        return np.asarray(im.convert("RGB")), None, icc
    raise PhotoError(f"{_name(im)}: unsupported colour mode ({mode})")


def _cmyk_to_rgb(im: Image.Image, icc: bytes | None) -> tuple[np.ndarray, None, bytes | None]:
    """CMYK -> sRGB through the file's own profile when it has one; that profile cannot describe RGB."""
    if icc:
        try:
            srgb = ImageCms.createProfile("sRGB")
            rgb = ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(icc)), srgb, outputMode="RGB")
            return np.asarray(rgb), None, ImageCms.ImageCmsProfile(srgb).tobytes()
        except (ImageCms.PyCMSError, OSError, ValueError):
            log.debug("CMYK profile unusable in %s; using the plain conversion", _name(im), exc_info=True)
    return np.asarray(im.convert("RGB")), None, None


def _decode_with_opencv(im: Image.Image, path: Path, grey_file: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """16-bit colour (or grey+alpha) pixels, which Pillow would truncate to 8 bits."""
    _check_complete(im, path)
    # np.fromfile + imdecode rather than cv2.imread: imread cannot open non-ASCII paths on Windows.
    # IMREAD_UNCHANGED keeps 16 bits and alpha and ignores EXIF orientation (we apply it ourselves).
    data = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if data is None or data.shape[1::-1] != im.size:
        raise PhotoError(f"{path.name}: the image data is damaged and cannot be decoded")
    if data.dtype != np.uint16:
        data = data.astype(np.uint16) * 257 if data.dtype == np.uint8 else data
    if data.ndim == 2:
        return data, None
    alpha = data[..., 3] if data.shape[2] == 4 else None
    if grey_file:
        return data[..., 0], alpha
    return data[..., 2::-1], alpha  # BGR(A) -> RGB


def _check_complete(im: Image.Image, path: Path) -> None:
    """Refuse truncated files before OpenCV sees them: it may return a partly black image instead."""
    if im.format == "PNG":
        _verify_png(path)
        return
    tags = im.tag_v2
    offsets = tags.get(273) or tags.get(324) or ()
    counts = tags.get(279) or tags.get(325) or ()
    end = max((o + c for o, c in zip(offsets, counts)), default=0)
    if end > path.stat().st_size:
        raise PhotoError(f"{path.name}: the file is incomplete (truncated); it may not have finished copying")


def _apply_orientation(pixels: np.ndarray, alpha: np.ndarray | None, orientation: int):
    return _orient(pixels, orientation), None if alpha is None else _orient(alpha, orientation)


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """The view that shows the picture upright for an EXIF orientation (as PIL.ImageOps.exif_transpose)."""
    if orientation == 2:
        return a[:, ::-1]
    if orientation == 3:
        return a[::-1, ::-1]
    if orientation == 4:
        return a[::-1]
    if orientation == 5:
        return a.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(a, -1)
    if orientation == 7:
        return a[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(a, 1)
    return a


def _read_orientation(im: Image.Image) -> int:
    try:
        value = int(im.getexif().get(_ORIENTATION, 1))
    except Exception:  # unreadable EXIF must not make the photo unreadable
        return 1
    return value if 1 <= value <= 8 else 1


def _upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _read_exif(im: Image.Image, upright_size: tuple[int, int]) -> bytes | None:
    """The EXIF block for the upright pixels: Orientation 1, upright pixel dimensions, no TIFF storage tags.

    Must run while the file is open: for a TIFF, Pillow reads the sub-IFDs from the file itself.
    """
    try:
        exif = im.getexif()
        for tag in [t for t in exif if t in _STRUCTURAL_TIFF_TAGS]:
            del exif[tag]
        if not len(exif):
            return None
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        if _EXIF_IFD in exif:
            sub = exif.get_ifd(_EXIF_IFD)
            for tag, value in zip((_PIXEL_X_DIMENSION, _PIXEL_Y_DIMENSION), upright_size):
                if tag in sub:
                    sub[tag] = value
        return exif.tobytes()
    except Exception:  # damaged EXIF costs the metadata, not the photo
        log.warning("ignoring unreadable EXIF in %s", _name(im), exc_info=True)
        return None


def _read_dpi(im: Image.Image) -> tuple[float, float] | None:
    dpi = im.info.get("dpi")
    try:
        x, y = float(dpi[0]), float(dpi[1])
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    if not (x > 0 and y > 0 and math.isfinite(x) and math.isfinite(y)):
        return None
    return _snap_dpi(x), _snap_dpi(y)


def _snap_dpi(value: float) -> float:
    # PNG and BMP store pixels per metre, so 300 dpi reads back as 299.9994; one unit there is
    # 0.0254 dpi, so anything within half of that of a whole number was that number.
    nearest = round(value)
    return float(nearest) if abs(value - nearest) <= 0.0127 else value


def _looks_grey(pixels: np.ndarray) -> bool:
    """True for black-and-white and toned (sepia, selenium, cyanotype) photos stored as colour.

    A toned print's chroma is not constant: the paper base is pale and the toned silver strongest in
    the midtones. So the chroma is fitted as a quadratic function of brightness and only what is
    left over is measured: tiny for any toned print, large as soon as two colours share a brightness.
    """
    h, w = pixels.shape[:2]
    step = max(1, math.ceil(math.sqrt(h * w / _GREY_SAMPLES)))
    rgb = pixels[::step, ::step].reshape(-1, 3).astype(np.float32)
    if pixels.dtype == np.uint16:
        rgb /= 257.0
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    chroma = np.stack([0.564 * (b - y), 0.713 * (r - y)], axis=1)  # Cb, Cr
    t = y / 255.0
    design = np.stack([np.ones_like(t), t, t * t], axis=1)
    coef, *_ = np.linalg.lstsq(design, chroma, rcond=None)  # silent for flat images (rank deficient)
    residual = chroma - design @ coef
    spread = np.percentile(np.hypot(residual[:, 0], residual[:, 1]), 99)
    return bool(spread < _GREY_CHROMA_SPREAD)


# --------------------------------------------------------------------------------------------
# Load error messages
# --------------------------------------------------------------------------------------------


def _name(im: Image.Image) -> str:
    return Path(getattr(im, "filename", "") or "image").name


def _megapixels(pixels: int) -> str:
    value = pixels / 1e6
    return f"{value:.0f}" if value >= 10 else f"{value:.3g}"


def _pillow_refused_message(path: Path, error: Exception, max_pixels: int | None, pillow_limit: int) -> str:
    # Name our limit when the image is over it; name Pillow's only for an image that our limit
    # would allow but Pillow will not open, so the message is never contradicted.
    pixels = _pixels_in_pillow_message(error)
    over_ours = max_pixels is not None and (pixels is None or pixels > max_pixels)
    return _too_large_message(path, pixels, max_pixels if over_ours else pillow_limit)


def _too_large_message(path: Path, pixels: int | None, limit: int | None) -> str:
    limit_text = f"{_megapixels(limit)} MP" if limit else "this size"
    if pixels is None:
        return f"{path.name} is too large; FR Studio refuses images over {limit_text}"
    return f"{path.name} is {_megapixels(pixels)} MP; FR Studio refuses images over {limit_text}"


def _pixels_in_pillow_message(error: Exception) -> int | None:
    match = re.search(r"\((\d+) pixels\)", str(error))
    return int(match[1]) if match else None


_SIGNATURES = [
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"II*\0", "TIFF"),
    (b"MM\0*", "TIFF"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
]


def _unidentified_message(path: Path) -> str:
    """Pillow did not recognise the file: say whether it is an image at all."""
    with open(path, "rb") as f:
        head = f.read(512)
    fmt = next((name for magic, name in _SIGNATURES if head.startswith(magic)), None)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        fmt = "WebP"
    if fmt == "TIFF" and _tiff_directory_missing(head, path.stat().st_size):
        return f"{path.name}: the file is incomplete (truncated); it may not have finished copying"
    if fmt is not None:
        return f"{path.name}: the file starts like a {fmt} image but is damaged and cannot be read"
    if head and all(32 <= c < 127 or c in b"\t\r\n" for c in head.rstrip(b"\0")):
        return f"{path.name}: this is not an image (the file contains text)"
    return f"{path.name}: this is not an image, or it is too damaged to recognise"


def _tiff_directory_missing(head: bytes, file_size: int) -> bool:
    # Many writers put the TIFF directory at the end, so a cut-off file has none left.
    order = "<" if head[:2] == b"II" else ">"
    (offset,) = struct.unpack(order + "I", head[4:8])
    return offset + 2 > file_size


def _decode_error_message(path: Path, error: Exception) -> str:
    text = str(error).lower()
    if isinstance(error, EOFError) or "truncated" in text or "premature end" in text:
        return f"{path.name}: the file is incomplete (truncated); it may not have finished copying"
    return f"{path.name}: the image data is damaged and cannot be decoded"


# --------------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------------

_SAME_ALPHA = object()  # save_photo's default: the photo's own alpha


@dataclass
class _Output:
    """What an encoder writes: pixels already at the output's bit depth and channel layout."""

    pixels: np.ndarray  # H x W (grey) or H x W x 3 (RGB), uint8 or uint16
    alpha: np.ndarray | None  # H x W, same dtype as pixels
    icc: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None


def save_photo(
    photo: Photo,
    pixels: np.ndarray,
    dest: str | os.PathLike,
    format: str | None = None,
    quality: int = 95,
    keep_metadata: bool = True,
    alpha: np.ndarray | None = _SAME_ALPHA,  # type: ignore[assignment]
) -> Path:
    """Atomically write `pixels` (the restored `photo`) to `dest` with the photo's metadata."""
    dest = Path(dest)
    fmt = _write_format(format or ("PNG" if photo.format == "GIF" else photo.format))
    _refuse_overwriting_input(photo.path, dest)
    _check_pixels(pixels)
    height, width = pixels.shape[:2]
    if alpha is _SAME_ALPHA:
        alpha = photo.alpha
    out = _Output(pixels=pixels, alpha=_fit_alpha(alpha, pixels) if fmt in _ALPHA_FORMATS else None)
    if keep_metadata:
        out.icc, out.exif = photo.icc_profile, photo.exif
    out.dpi = _scaled_dpi(photo.dpi, photo.size[0], width)
    return _write(out, dest, fmt, quality, grey=photo.grey_mode)


def save_image(pixels: np.ndarray, dest: str | os.PathLike, format: str | None = None, quality: int = 95) -> Path:
    """Atomically write a plain RGB (H x W x 3) or grey (H x W) uint8/uint16 array, no metadata."""
    dest = Path(dest)
    if format is None:
        format = _SUFFIX_FORMATS.get(dest.suffix.lower())
        if format is None:
            raise PhotoError(f"{dest.name}: cannot tell the image format from the name; use .jpg, .png, .tif, .webp or .bmp")
    fmt = _write_format(format)
    _check_pixels(pixels, allow_grey=True)
    return _write(_Output(pixels=pixels, alpha=None), dest, fmt, quality, grey=pixels.ndim == 2)


def _write(out: _Output, dest: Path, fmt: str, quality: int, grey: bool) -> Path:
    _check_fits_format(out.pixels, dest, fmt)
    if fmt not in _SIXTEEN_BIT_FORMATS:
        out.pixels = to_uint8(out.pixels)
        out.alpha = None if out.alpha is None else to_uint8(out.alpha)
    if out.alpha is not None and out.alpha.dtype != out.pixels.dtype:
        out.alpha = _convert_depth(out.alpha, out.pixels.dtype)
    # 16-bit grey + alpha stays RGBA: OpenCV cannot write it as PNG, Pillow cannot read it as TIFF.
    sixteen_bit_grey_alpha = out.alpha is not None and out.pixels.dtype == np.uint16
    if out.pixels.ndim == 3 and grey and not sixteen_bit_grey_alpha and fmt != "WEBP":
        out.pixels = _to_grey(out.pixels)
    if out.pixels.ndim == 2 and (sixteen_bit_grey_alpha or fmt == "WEBP"):  # WebP has no grey mode
        out.pixels = np.dstack([out.pixels] * 3)
    out.icc = _matching_icc(out.icc, grey=out.pixels.ndim == 2)
    encoder = _ENCODERS[fmt]
    return atomic_write(dest, lambda temp: encoder(temp, out, quality), lambda temp: _check_written(temp, dest, fmt))


_PNG_END = b"\0\0\0\0IEND\xaeB`\x82"


def _check_written(path: Path, dest: Path, fmt: str) -> None:
    """Refuse a file the encoder left incomplete: its header must parse and its length match what the header
    or the format's end marker says. Pillow's encoders write through the file descriptor and ignore a short
    write (a nearly full disk), so "no exception" does not mean "all written"."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
        f.seek(max(0, size - len(_PNG_END)))
        tail = f.read()
    if fmt == "JPEG":
        complete = head.startswith(b"\xff\xd8\xff") and tail.endswith(b"\xff\xd9")
    elif fmt == "PNG":
        complete = head.startswith(b"\x89PNG\r\n\x1a\n") and tail == _PNG_END
    elif fmt == "WEBP":
        complete = head[:4] == b"RIFF" and head[8:12] == b"WEBP" and struct.unpack("<I", head[4:8])[0] + 8 == size
    elif fmt == "BMP":
        complete = head[:2] == b"BM" and struct.unpack("<I", head[2:6])[0] == size
    else:
        complete = _tiff_complete(path, size)
    if not complete:
        raise PhotoError(f"cannot write {dest.name} to {dest.parent}: it was written incompletely (the disk may be full)")


def _tiff_complete(path: Path, size: int) -> bool:
    # The directory is read directly, not by Image.open: an upscaled scan may be over Pillow's pixel limit.
    try:
        with open(path, "rb") as f:
            ifd = TiffImagePlugin.ImageFileDirectory_v2(f.read(8))
            f.seek(ifd.next)
            ifd.load(f)
        offsets, counts = ifd.get(273) or (), ifd.get(279) or ()
    except Exception:  # noqa: BLE001 - a directory that cannot be parsed is an incomplete file here
        return False
    return bool(offsets) and max(o + c for o, c in zip(offsets, counts)) <= size


def _check_fits_format(pixels: np.ndarray, dest: Path, fmt: str) -> None:
    # An upscaled big scan can outgrow these; the encoders would only say "encoder error".
    limit = _MAX_SIDE.get(fmt)
    if limit is not None and max(pixels.shape[:2]) > limit:
        raise PhotoError(
            f"{dest.name}: {pixels.shape[1]} x {pixels.shape[0]} pixels is too large for {fmt.replace('WEBP', 'WebP')} "
            f"(at most {limit} pixels a side); save as PNG or TIFF"
        )


def _matching_icc(icc: bytes | None, grey: bool) -> bytes | None:
    # A profile describes one colour space (bytes 16-20 of its header). A grey profile on RGB pixels,
    # or an RGB one on grey pixels, is invalid and makes colour-managed readers fail or misrender.
    if icc and icc[16:20] == (b"GRAY" if grey else b"RGB "):
        return icc
    if icc:
        log.info("not embedding a %r ICC profile in a %s image", icc[16:20], "grey" if grey else "colour")
    return None


def _write_format(name: str) -> str:
    fmt = _WRITE_FORMATS.get(name.strip().lstrip(".").upper())
    if fmt is None:
        raise PhotoError(f"cannot save as {name}: FR Studio saves JPEG, PNG, TIFF, WebP and BMP")
    return fmt


def _refuse_overwriting_input(source: Path, dest: Path) -> None:
    same = dest.resolve() == source.resolve()
    if not same and dest.exists() and source.exists():
        same = os.path.samefile(dest, source)  # hard links, case-insensitive file systems
    if same:
        raise PhotoError(f"{dest.name}: FR Studio never overwrites the original photo; choose another name or folder")


def _check_pixels(pixels: np.ndarray, allow_grey: bool = False) -> None:
    # Wrong arrays are programming errors, not a user's problem: ValueError, not PhotoError.
    rgb = isinstance(pixels, np.ndarray) and pixels.ndim == 3 and pixels.shape[2] == 3
    grey = allow_grey and isinstance(pixels, np.ndarray) and pixels.ndim == 2
    if not (rgb or grey):
        raise ValueError(f"expected H x W x 3 RGB pixels, got {getattr(pixels, 'shape', type(pixels))}")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError("cannot save an empty image")


def _fit_alpha(alpha: np.ndarray | None, pixels: np.ndarray) -> np.ndarray | None:
    """The alpha at the pixels' size and dtype (the restored image may have been upscaled)."""
    if alpha is None:
        return None
    alpha = _convert_depth(alpha, pixels.dtype)
    height, width = pixels.shape[:2]
    if alpha.shape != (height, width):
        alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
    return alpha


def _convert_depth(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if a.dtype == dtype:
        return a
    return to_uint8(a) if dtype == np.uint8 else a.astype(np.uint16) * 257


def _scaled_dpi(dpi: tuple[float, float] | None, old_width: int, new_width: int) -> tuple[float, float] | None:
    if dpi is None or old_width <= 0 or old_width == new_width:
        return dpi
    factor = new_width / old_width  # same print size for an upscaled restoration
    return dpi[0] * factor, dpi[1] * factor


def _to_grey(pixels: np.ndarray) -> np.ndarray:
    # Luma rather than one channel: a restored grey photo may have drifted slightly apart per channel.
    return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)


# ----- encoders: each writes `out` to a path ---------------------------------------------------


def _pillow_metadata(out: _Output) -> dict:
    # Only what is present: Pillow's savers fail on exif=None.
    meta: dict = {}
    if out.icc:
        meta["icc_profile"] = out.icc
    if out.exif:
        meta["exif"] = out.exif
    if out.dpi:
        meta["dpi"] = out.dpi
    return meta


def _pillow_image(pixels: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    """L, LA, RGB or RGBA (uint8), or I;16 (uint16 grey, no alpha)."""
    if alpha is None:
        return Image.fromarray(np.ascontiguousarray(pixels))
    return Image.fromarray(np.dstack([pixels, alpha]))


def _encode_jpeg(path: Path, out: _Output, quality: int) -> None:
    meta = _pillow_metadata(out)
    if "exif" in meta:
        meta["exif"] = _fit_jpeg_exif(meta["exif"])
        if meta["exif"] is None:
            del meta["exif"]
    # 4:4:4 chroma at high quality: restored faces have fine colour edges (lips, eyes) that 4:2:0 blurs.
    subsampling = 0 if quality >= 90 else 2
    _pillow_image(out.pixels, None).save(path, "JPEG", quality=quality, subsampling=subsampling, **meta)


def _fit_jpeg_exif(exif: bytes) -> bytes | None:
    if len(exif) <= _JPEG_MAX_EXIF:
        return exif
    parsed = Image.Exif()
    parsed.load(exif)
    sub = parsed.get_ifd(_EXIF_IFD)
    sub.pop(_MAKER_NOTE, None)
    smaller = parsed.tobytes()
    if len(smaller) <= _JPEG_MAX_EXIF:
        log.warning("EXIF too large for JPEG; saved without the camera maker note")
        return smaller
    log.warning("EXIF too large for JPEG (%d bytes); saved without EXIF", len(smaller))
    return None


def _encode_png(path: Path, out: _Output, quality: int) -> None:
    if out.pixels.dtype == np.uint8 or (out.pixels.ndim == 2 and out.alpha is None):
        # 8-bit anything, and 16-bit grey (Pillow's I;16), Pillow writes exactly, metadata included.
        _pillow_image(out.pixels, out.alpha).save(path, "PNG", compress_level=_DEFLATE_LEVEL, **_pillow_metadata(out))
        return
    path.write_bytes(_encode_png16_colour(out))


def _encode_png16_colour(out: _Output) -> bytes:
    """16-bit RGB(A) PNG: OpenCV encodes the pixels, and the metadata chunks are added by hand.

    Hand-written because neither library can do both: Pillow has no 16-bit colour mode, and
    cv2.imencode takes no ICC profile, EXIF or DPI. PNG chunks are simple and fully specified
    (length, type, data, CRC-32), so inserting iCCP / pHYs / eXIf after IHDR is safe.
    """
    if out.alpha is None:
        bgr = cv2.cvtColor(np.ascontiguousarray(out.pixels), cv2.COLOR_RGB2BGR)
    else:
        bgr = cv2.cvtColor(np.ascontiguousarray(np.dstack([out.pixels, out.alpha])), cv2.COLOR_RGBA2BGRA)
    ok, encoded = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, _DEFLATE_LEVEL])
    if not ok:
        raise PhotoError("the image could not be encoded as PNG")
    chunks = []
    if out.icc:
        chunks.append((b"iCCP", b"ICC profile\0\0" + zlib.compress(out.icc)))  # name, NUL, method 0
    if out.dpi:
        per_metre = [round(d / 0.0254) for d in out.dpi]
        chunks.append((b"pHYs", struct.pack(">IIB", per_metre[0], per_metre[1], 1)))
    if out.exif:
        chunks.append((b"eXIf", out.exif[6:] if out.exif.startswith(b"Exif\0\0") else out.exif))
    return _insert_png_chunks(encoded.tobytes(), chunks)


def _insert_png_chunks(png: bytes, chunks: list[tuple[bytes, bytes]]) -> bytes:
    ihdr_end = 8 + 4 + 4 + 13 + 4  # signature, then IHDR's length, type, 13 data bytes, CRC
    if png[12:16] != b"IHDR":
        raise PhotoError("the image could not be encoded as PNG")
    # Drop any chunk of the same type the encoder may have written, so each appears once.
    kinds = {kind for kind, _ in chunks}
    body, pos = [], ihdr_end
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        end = pos + 12 + length
        if png[pos + 4 : pos + 8] not in kinds:
            body.append(png[pos:end])
        pos = end
    added = [struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data)) for kind, data in chunks]
    return png[:ihdr_end] + b"".join(added) + b"".join(body)


def _encode_tiff(path: Path, out: _Output, quality: int) -> None:
    """Deflate-compressed TIFF (horizontal predictor), 8 or 16 bit, grey or RGB, optional alpha.

    Written with Pillow's TIFF directory class rather than Image.save (no 16-bit colour mode) or
    tifffile (cannot write the Exif and GPS sub-IFDs, i.e. date taken and location). The layout is
    Pillow's own: header and directory first, then the strips, whose offsets the directory writer
    shifts past itself.
    """
    planes = out.pixels if out.pixels.ndim == 3 else out.pixels[:, :, None]
    if out.alpha is not None:
        planes = np.dstack([planes, out.alpha])
    height, width, channels = planes.shape
    bits = planes.dtype.itemsize * 8

    ifd = TiffImagePlugin.ImageFileDirectory_v2()  # little-endian "II"
    _add_exif_tags(ifd, out.exif)  # first, so the storage tags below always win
    rows_per_strip = max(1, _TIFF_STRIP_BYTES // (width * channels * planes.dtype.itemsize))
    ifd[256], ifd[257] = width, height
    ifd[258] = (bits,) * channels
    ifd[259] = 8  # Adobe deflate
    ifd[262] = 2 if channels >= 3 else 1  # RGB / min-is-black
    ifd[277] = channels
    ifd[278] = rows_per_strip
    ifd[284] = 1  # contiguous samples
    ifd[317] = 2  # horizontal differencing: halves the size of photos
    if out.alpha is not None:
        ifd[338] = 2  # unassociated alpha
    if out.icc:
        ifd[34675] = out.icc
    if out.dpi:
        ifd[296] = 2  # inches
        ifd[282], ifd[283] = float(out.dpi[0]), float(out.dpi[1])

    strips = _deflate_strips(_horizontal_difference(planes), rows_per_strip)
    ifd[279] = tuple(len(s) for s in strips)
    ifd[273] = (0, *accumulate(len(s) for s in strips[:-1]))  # relative; shifted by ifd.save
    with open(path, "wb") as f:
        ifd.save(f)
        for strip in strips:
            f.write(strip)


def _horizontal_difference(planes: np.ndarray) -> np.ndarray:
    diff = planes.astype(planes.dtype.newbyteorder("<"), copy=True)  # file is little-endian
    diff[:, 1:] -= planes[:, :-1]  # unsigned wrap-around is what TIFF predictor 2 expects
    return np.ascontiguousarray(diff)


def _deflate_strips(data: np.ndarray, rows_per_strip: int) -> list[bytes]:
    chunks = [data[i : i + rows_per_strip] for i in range(0, data.shape[0], rows_per_strip)]
    # zlib releases the GIL, so threads compress strips in parallel (a 16-bit scan is hundreds of MB).
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda chunk: zlib.compress(chunk, _DEFLATE_LEVEL), chunks))


def _add_exif_tags(ifd: TiffImagePlugin.ImageFileDirectory_v2, exif_bytes: bytes | None) -> None:
    if not exif_bytes:
        return
    exif = Image.Exif()
    exif.load(exif_bytes)
    for tag, value in exif.items():
        if tag in _STRUCTURAL_TIFF_TAGS:
            continue
        if tag in (_EXIF_IFD, _GPS_IFD):
            sub = dict(exif.get_ifd(tag))
            sub.pop(_INTEROP_IFD, None)  # a pointer into the old block; would point at garbage
            if sub:
                ifd[tag] = sub
        else:
            ifd[tag] = value


def _encode_webp(path: Path, out: _Output, quality: int) -> None:
    meta = _pillow_metadata(out)
    meta.pop("dpi", None)  # WebP has no resolution field
    _pillow_image(out.pixels, out.alpha).save(path, "WEBP", quality=quality, method=4, **meta)


def _encode_bmp(path: Path, out: _Output, quality: int) -> None:
    dpi = {"dpi": out.dpi} if out.dpi else {}
    _pillow_image(out.pixels, None).save(path, "BMP", **dpi)


_ENCODERS: dict[str, Callable[[Path, _Output, int], None]] = {
    "JPEG": _encode_jpeg,
    "PNG": _encode_png,
    "TIFF": _encode_tiff,
    "WEBP": _encode_webp,
    "BMP": _encode_bmp,
}
