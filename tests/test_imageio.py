"""Tests for frstudio.core.imageio. Every image is generated here, in tmp_path, and kept tiny."""

from __future__ import annotations

import dataclasses
import errno
import io
import os
import stat
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from frstudio.core import files, imageio
from frstudio.core.errors import PhotoError
from frstudio.core.imageio import (
    MAX_PIXELS,
    Photo,
    atomic_write,
    load_photo,
    probe_photo,
    save_image,
    save_photo,
    to_uint8,
)

MAKE, MODEL, ORIENTATION, EXIF_IFD, GPS_IFD, DATE_TAKEN = 0x010F, 0x0110, 0x0112, 0x8769, 0x8825, 0x9003
GPS = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 7.0)}
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# ----- test images ----------------------------------------------------------------------------


def colour_image(h: int = 48, w: int = 64, dtype=np.uint8) -> np.ndarray:
    """Smooth and colourful, so lossy formats stay close and the grey detector says colour."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    rgb = np.stack([x / (w - 1), y / (h - 1), 1 - (x + y) / (w + h - 2)], axis=2)
    top = 65535 if dtype == np.uint16 else 255
    return np.round(rgb * top).astype(dtype)


def asymmetric_image(h: int = 6, w: int = 9) -> np.ndarray:
    """Every pixel different, so any wrong flip or rotation shows."""
    values = np.arange(h * w * 3, dtype=np.uint16).reshape(h, w, 3) * 7 % 256
    return values.astype(np.uint8)


def grey_photo(h: int = 64, w: int = 80, seed: int = 1) -> np.ndarray:
    """A plausible black-and-white photo: gradients, a bright 'face' disc, film grain."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    lum = 40 + 150 * x / w + 40 * np.sin(y / 7)
    lum[(x - w / 2) ** 2 + (y - h / 2) ** 2 < (h / 4) ** 2] = 225
    return np.clip(lum + rng.normal(0, 4, lum.shape), 0, 255)


def exif_block(orientation: int | None = None) -> bytes:
    exif = Image.Exif()
    exif[MAKE], exif[MODEL] = "Kodak", "Retina IIa"
    if orientation is not None:
        exif[ORIENTATION] = orientation
    exif.get_ifd(EXIF_IFD)[DATE_TAKEN] = "1952:07:14 10:30:00"
    exif.get_ifd(GPS_IFD).update(GPS)
    return exif.tobytes()


def parse_exif(block: bytes | None) -> Image.Exif:
    assert block, "no EXIF"
    exif = Image.Exif()
    exif.load(block)
    return exif


def assert_camera_exif(block: bytes | None) -> None:
    exif = parse_exif(block)
    assert exif[MAKE] == "Kodak" and exif[MODEL] == "Retina IIa"
    assert exif.get_ifd(EXIF_IFD)[DATE_TAKEN] == "1952:07:14 10:30:00"
    gps = exif.get_ifd(GPS_IFD)
    assert gps[1] == "N" and gps[3] == "E"
    assert [float(v) for v in gps[2]] == [48.0, 51.0, 24.0]


def write_cv2(path: Path, rgb: np.ndarray, params: list[int] | None = None) -> Path:
    bgr = rgb if rgb.ndim == 2 else rgb[..., [2, 1, 0, 3][: rgb.shape[2]]]
    ok, data = cv2.imencode(path.suffix, np.ascontiguousarray(bgr), params or [])
    assert ok
    path.write_bytes(data.tobytes())
    return path


def png_by_hand(path: Path, samples: np.ndarray, colour_type: int) -> Path:
    """A 16-bit PNG neither Pillow nor OpenCV can write (grey + alpha)."""
    h, w = samples.shape[:2]
    rows = samples.astype(">u2").reshape(h, -1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def with_metadata(photo: Photo, orientation: int | None = None) -> Photo:
    return dataclasses.replace(photo, icc_profile=SRGB_ICC, exif=exif_block(orientation), dpi=(300.0, 300.0))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.name.endswith(".part"))


# ----- round trips ----------------------------------------------------------------------------

LOSSLESS_SOURCES = [
    ("PNG", 8, "a.png", {}),
    ("PNG", 16, "a.png", {}),
    ("TIFF", 8, "a.tif", {}),
    ("TIFF", 8, "lzw.tif", {"compression": "tiff_lzw"}),
    ("TIFF", 8, "deflate.tif", {"compression": "tiff_adobe_deflate"}),
    ("TIFF", 16, "a.tif", {}),
    ("TIFF", 16, "lzw.tif", {"cv2": [cv2.IMWRITE_TIFF_COMPRESSION, 5]}),
    ("TIFF", 16, "deflate.tif", {"cv2": [cv2.IMWRITE_TIFF_COMPRESSION, 8]}),
    ("BMP", 8, "a.bmp", {}),
]


@pytest.mark.parametrize("fmt, bits, name, options", LOSSLESS_SOURCES)
def test_lossless_round_trip(tmp_path, fmt, bits, name, options):
    pixels = colour_image(dtype=np.uint16 if bits == 16 else np.uint8)
    src = tmp_path / name
    if bits == 16:
        write_cv2(src, pixels, options.get("cv2"))
    else:
        Image.fromarray(pixels).save(src, **options)

    photo = load_photo(src)
    assert (photo.format, photo.bit_depth, photo.pixels.dtype) == (fmt, bits, pixels.dtype)
    assert photo.pixels.flags.c_contiguous and photo.size == (64, 48)
    np.testing.assert_array_equal(photo.pixels, pixels)
    assert photo.alpha is None and not photo.is_grey and not photo.grey_mode

    out = save_photo(photo, photo.pixels, tmp_path / f"out.{fmt.lower()}")
    again = load_photo(out)
    assert (again.format, again.bit_depth) == (fmt, bits)
    np.testing.assert_array_equal(again.pixels, pixels)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_lossy_round_trip_is_close(tmp_path, fmt):
    pixels = colour_image()
    src = tmp_path / "a.png"
    Image.fromarray(pixels).save(src)
    out = save_photo(load_photo(src), pixels, tmp_path / "out.img", format=fmt)
    again = load_photo(out)
    assert again.format == fmt and again.bit_depth == 8
    diff = np.abs(again.pixels.astype(int) - pixels)
    assert diff.mean() < 2 and diff.max() < 30


def test_progressive_jpeg_loads(tmp_path):
    pixels = colour_image()
    Image.fromarray(pixels).save(tmp_path / "p.jpg", quality=95, progressive=True)
    photo = load_photo(tmp_path / "p.jpg")
    assert photo.format == "JPEG" and np.abs(photo.pixels.astype(int) - pixels).mean() < 2


def test_sixteen_bit_stays_sixteen_bit_where_possible(tmp_path):
    pixels = colour_image(dtype=np.uint16)
    photo = load_photo(write_cv2(tmp_path / "scan.png", pixels))
    assert load_photo(save_photo(photo, pixels, tmp_path / "o.tif", "tif")).bit_depth == 16
    assert load_photo(save_photo(photo, pixels, tmp_path / "o.png")).bit_depth == 16
    jpeg = load_photo(save_photo(photo, pixels, tmp_path / "o.jpg", "jpg"))
    assert jpeg.bit_depth == 8
    assert np.abs(jpeg.pixels.astype(int) - to_uint8(pixels)).mean() < 2
    bmp = load_photo(save_photo(photo, pixels, tmp_path / "o.bmp", "bmp"))
    np.testing.assert_array_equal(bmp.pixels, to_uint8(pixels))


def test_to_uint8_rounds():
    values = np.array([0, 128, 129, 257, 385, 386, 65535], dtype=np.uint16)
    np.testing.assert_array_equal(to_uint8(values), [0, 0, 1, 1, 1, 2, 255])
    eight = np.arange(5, dtype=np.uint8)
    assert to_uint8(eight) is eight


# ----- metadata -------------------------------------------------------------------------------


def test_metadata_is_read_from_jpeg(tmp_path):
    src = tmp_path / "camera.jpg"
    Image.fromarray(colour_image()).save(src, exif=exif_block(), icc_profile=SRGB_ICC, dpi=(300, 300))
    photo = load_photo(src)
    assert photo.icc_profile == SRGB_ICC and photo.dpi == (300.0, 300.0)
    assert_camera_exif(photo.exif)


@pytest.mark.parametrize(
    "fmt, bits",
    [("JPEG", 8), ("PNG", 8), ("PNG", 16), ("TIFF", 8), ("TIFF", 16), ("WEBP", 8)],
)
def test_icc_exif_and_dpi_survive(tmp_path, fmt, bits):
    dtype = np.uint16 if bits == 16 else np.uint8
    src = write_cv2(tmp_path / "src.png", colour_image(dtype=dtype))
    photo = with_metadata(load_photo(src))
    out = save_photo(photo, photo.pixels, tmp_path / "out", format=fmt)
    again = load_photo(out)
    assert again.bit_depth == bits
    assert again.icc_profile == SRGB_ICC
    assert_camera_exif(again.exif)
    if fmt != "WEBP":  # WebP has no resolution field
        assert again.dpi == (300.0, 300.0)


def test_bmp_keeps_dpi_only(tmp_path):
    photo = with_metadata(load_photo(write_cv2(tmp_path / "src.png", colour_image())))
    again = load_photo(save_photo(photo, photo.pixels, tmp_path / "out.bmp", "BMP"))
    assert again.icc_profile is None and again.exif is None and again.dpi == (300.0, 300.0)


def test_keep_metadata_false_strips_icc_and_exif(tmp_path):
    photo = with_metadata(load_photo(write_cv2(tmp_path / "src.png", colour_image())))
    again = load_photo(save_photo(photo, photo.pixels, tmp_path / "out.jpg", keep_metadata=False))
    assert again.icc_profile is None and again.exif is None


def test_tiff_metadata_written_by_pillow_is_read(tmp_path):
    src = tmp_path / "scan.tif"
    Image.fromarray(colour_image()).save(src, exif=exif_block(), icc_profile=SRGB_ICC, dpi=(600, 600))
    photo = load_photo(src)
    assert photo.icc_profile == SRGB_ICC and photo.dpi == (600.0, 600.0)
    assert_camera_exif(photo.exif)
    # The TIFF's storage tags are not part of the carried EXIF.
    assert not {256, 257, 258, 259, 273, 279} & set(parse_exif(photo.exif))


def test_upscaled_result_scales_dpi_and_alpha(tmp_path):
    rgba = np.dstack([colour_image(), np.full((48, 64), 200, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "a.png", dpi=(300, 300))
    photo = load_photo(tmp_path / "a.png")
    bigger = cv2.resize(photo.pixels, (128, 96))
    again = load_photo(save_photo(photo, bigger, tmp_path / "big.png"))
    assert again.size == (128, 96) and again.dpi == (600.0, 600.0)
    assert again.alpha.shape == (96, 128) and (again.alpha == 200).all()


# ----- orientation ----------------------------------------------------------------------------

# The stored (camera) image for each orientation is the upright picture put through the inverse
# of the transform that EXIF tells a viewer to apply.
STORE_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied(tmp_path, orientation):
    upright = asymmetric_image()
    stored = Image.fromarray(upright)
    if STORE_AS[orientation] is not None:
        stored = stored.transpose(STORE_AS[orientation])
    src = tmp_path / f"o{orientation}.png"
    stored.save(src, exif=exif_block(orientation))

    assert probe_photo(src) == (9, 6, "PNG")
    photo = load_photo(src)
    np.testing.assert_array_equal(photo.pixels, upright)
    assert parse_exif(photo.exif)[ORIENTATION] == 1
    assert_camera_exif(photo.exif)

    out = save_photo(photo, photo.pixels, tmp_path / "out.jpg")
    with Image.open(out) as saved:
        assert saved.size == (9, 6) and saved.getexif()[ORIENTATION] == 1


def test_orientation_of_jpeg_and_of_16_bit_png(tmp_path):
    upright = colour_image()
    src = tmp_path / "portrait.jpg"
    Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90).save(src, exif=exif_block(6), quality=95)
    photo = load_photo(src)
    assert photo.size == (64, 48) and np.abs(photo.pixels.astype(int) - upright).mean() < 2

    # 16-bit colour goes through OpenCV, which must not rotate a second time.
    deep = colour_image(dtype=np.uint16)
    turned = np.ascontiguousarray(np.rot90(deep, 1))  # stored 90° counter-clockwise: orientation 6
    base = load_photo(write_cv2(tmp_path / "plain.png", turned))
    tagged = save_photo(dataclasses.replace(base, exif=exif_block(6)), turned, tmp_path / "tagged.png")
    np.testing.assert_array_equal(load_photo(tagged).pixels, deep)


# ----- grey, sepia, colour --------------------------------------------------------------------


def test_grey_png_is_grey_mode_and_saved_single_channel(tmp_path):
    lum = grey_photo().astype(np.uint8)
    Image.fromarray(lum).save(tmp_path / "bw.png")
    photo = load_photo(tmp_path / "bw.png")
    assert photo.grey_mode and photo.is_grey and photo.bit_depth == 8
    assert photo.pixels.shape == (64, 80, 3)
    np.testing.assert_array_equal(photo.pixels, np.dstack([lum] * 3))
    for fmt, mode in [("PNG", "L"), ("JPEG", "L"), ("TIFF", "L"), ("BMP", "L"), ("WEBP", "RGB")]:
        with Image.open(save_photo(photo, photo.pixels, tmp_path / f"out.{fmt}", fmt)) as saved:
            assert saved.mode == mode, fmt


def test_grey_icc_profile_only_on_grey_output(tmp_path):
    grey_icc = SRGB_ICC[:16] + b"GRAY" + SRGB_ICC[20:]  # header says grey; enough for the writers
    Image.fromarray(grey_photo().astype(np.uint8)).save(tmp_path / "bw.png", icc_profile=grey_icc)
    photo = load_photo(tmp_path / "bw.png")
    assert photo.icc_profile == grey_icc
    assert load_photo(save_photo(photo, photo.pixels, tmp_path / "o.jpg", "JPEG")).icc_profile == grey_icc
    assert load_photo(save_photo(photo, photo.pixels, tmp_path / "o.tif", "TIFF")).icc_profile == grey_icc
    assert load_photo(save_photo(photo, photo.pixels, tmp_path / "o.webp", "WEBP")).icc_profile is None


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_grey(tmp_path, suffix):
    lum = (grey_photo() * 257).astype(np.uint16)
    src = write_cv2(tmp_path / f"bw{suffix}", lum)
    photo = load_photo(src)
    assert photo.grey_mode and photo.bit_depth == 16
    np.testing.assert_array_equal(photo.pixels[..., 1], lum)
    again = load_photo(save_photo(photo, photo.pixels, tmp_path / f"out{suffix}"))
    assert again.grey_mode and again.bit_depth == 16
    np.testing.assert_array_equal(again.pixels[..., 0], lum)


def test_sixteen_bit_grey_with_alpha(tmp_path):
    lum = (grey_photo(8, 10) * 257).astype(np.uint16)
    alpha = np.full_like(lum, 40000)
    photo = load_photo(png_by_hand(tmp_path / "la16.png", np.dstack([lum, alpha]), colour_type=4))
    assert photo.grey_mode and photo.bit_depth == 16
    np.testing.assert_array_equal(photo.pixels[..., 2], lum)
    np.testing.assert_array_equal(photo.alpha, alpha)
    for fmt in ("PNG", "TIFF"):
        again = load_photo(save_photo(photo, photo.pixels, tmp_path / f"out.{fmt}", fmt))
        assert again.bit_depth == 16 and again.is_grey
        np.testing.assert_array_equal(again.pixels[..., 0], lum)
        np.testing.assert_array_equal(again.alpha, alpha)


def test_grey_stored_as_rgb_jpeg_is_grey(tmp_path):
    lum = grey_photo().astype(np.uint8)
    Image.fromarray(np.dstack([lum] * 3)).save(tmp_path / "bw.jpg", quality=85)
    photo = load_photo(tmp_path / "bw.jpg")
    assert photo.is_grey and not photo.grey_mode


def test_sepia_print_is_grey(tmp_path):
    t = grey_photo() / 255
    # Toning is strongest in the midtones; the paper base stays nearly white.
    sepia = np.stack([t ** 0.9, t ** 1.05, t ** 1.35], axis=2) * 255
    Image.fromarray(np.round(sepia).astype(np.uint8)).save(tmp_path / "sepia.jpg", quality=90)
    photo = load_photo(tmp_path / "sepia.jpg")
    assert photo.is_grey and not photo.grey_mode


@pytest.mark.parametrize("colour_fraction", [1.0, 0.15])
def test_colour_photo_is_not_grey(tmp_path, colour_fraction):
    lum = grey_photo().astype(np.uint8)
    pixels = np.dstack([lum] * 3)
    rows = int(pixels.shape[0] * colour_fraction)
    pixels[:rows] = colour_image(64, 80)[:rows]
    Image.fromarray(pixels).save(tmp_path / "colour.jpg", quality=90)
    assert not load_photo(tmp_path / "colour.jpg").is_grey


# ----- alpha, palette, CMYK, GIF --------------------------------------------------------------


@pytest.mark.parametrize("bits", [8, 16])
def test_alpha_kept_where_the_format_allows(tmp_path, bits):
    dtype = np.uint16 if bits == 16 else np.uint8
    alpha = np.tile(np.linspace(0, np.iinfo(dtype).max, 64).astype(dtype), (48, 1))
    write_cv2(tmp_path / "a.png", np.dstack([colour_image(dtype=dtype), alpha]))
    photo = load_photo(tmp_path / "a.png")
    assert photo.alpha is not None and photo.alpha.dtype == dtype
    np.testing.assert_array_equal(photo.alpha, alpha)
    for fmt in ("PNG", "TIFF"):
        again = load_photo(save_photo(photo, photo.pixels, tmp_path / f"o.{fmt}", fmt))
        np.testing.assert_array_equal(again.alpha, alpha)
    webp = load_photo(save_photo(photo, photo.pixels, tmp_path / "o.webp", "WEBP"))
    assert np.abs(webp.alpha.astype(int) - to_uint8(alpha)).max() <= 1
    for fmt in ("JPEG", "BMP"):
        assert load_photo(save_photo(photo, photo.pixels, tmp_path / f"o.{fmt}", fmt)).alpha is None
    assert load_photo(save_photo(photo, photo.pixels, tmp_path / "n.png", alpha=None)).alpha is None


def test_grey_with_alpha_png(tmp_path):
    la = np.dstack([grey_photo(8, 10).astype(np.uint8), np.full((8, 10), 99, np.uint8)])
    Image.fromarray(la).save(tmp_path / "la.png")
    photo = load_photo(tmp_path / "la.png")
    assert photo.grey_mode and (photo.alpha == 99).all()
    with Image.open(save_photo(photo, photo.pixels, tmp_path / "out.png")) as saved:
        assert saved.mode == "LA"


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_png(tmp_path, transparent):
    index = np.arange(48, dtype=np.uint8).reshape(6, 8) % 4
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0]
    im = Image.frombytes("P", (8, 6), index.tobytes())
    im.putpalette(palette)
    im.save(tmp_path / "p.png", **({"transparency": 0} if transparent else {}))
    photo = load_photo(tmp_path / "p.png")
    expected = np.array(palette, np.uint8).reshape(4, 3)[index]
    np.testing.assert_array_equal(photo.pixels, expected)
    if transparent:
        np.testing.assert_array_equal(photo.alpha, np.where(index == 0, 0, 255))
    else:
        assert photo.alpha is None


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    cmyk = np.zeros((16, 16, 4), np.uint8)
    cmyk[:, :8, 0] = 255  # cyan on the left
    cmyk[:, 8:, 1] = 255  # magenta on the right
    Image.frombytes("CMYK", (16, 16), cmyk.tobytes()).save(tmp_path / "print.jpg", quality=95)
    photo = load_photo(tmp_path / "print.jpg")
    assert photo.pixels.shape == (16, 16, 3) and photo.format == "JPEG"
    assert np.abs(photo.pixels[8, 2].astype(int) - [0, 255, 255]).max() < 12
    assert np.abs(photo.pixels[8, 13].astype(int) - [255, 0, 255]).max() < 12
    assert photo.icc_profile is None  # never a CMYK profile on RGB pixels


def test_animated_gif_gives_first_frame_and_saves_png(tmp_path):
    frames = [Image.new("RGB", (12, 10), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    photo = load_photo(tmp_path / "anim.gif")
    assert photo.format == "GIF" and photo.size == (12, 10)
    assert (photo.pixels == [255, 0, 0]).all()
    out = save_photo(photo, photo.pixels, tmp_path / "restored.png")
    with Image.open(out) as saved:
        assert saved.format == "PNG"


# ----- bad input ------------------------------------------------------------------------------


def one_line_error(call, *args, **kwargs) -> str:
    with pytest.raises(PhotoError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and message.strip() == message and len(message) < 200
    return message


def jpeg_bytes(quality: int = 90) -> bytes:
    rng = np.random.default_rng(3)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def make_truncated(tmp_path: Path, kind: str) -> Path:
    rng = np.random.default_rng(4)
    noise8 = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    noise16 = rng.integers(0, 65536, (64, 64, 3), dtype=np.uint16)
    whole = {
        "jpg": lambda p: p.write_bytes(jpeg_bytes()),
        "progressive.jpg": lambda p: Image.fromarray(noise8).save(p, "JPEG", progressive=True),
        "png": lambda p: Image.fromarray(noise8).save(p, "PNG"),
        "16.png": lambda p: write_cv2(p, noise16),
        "16.tif": lambda p: write_cv2(p, noise16),
    }
    path = tmp_path / f"whole.{kind}"
    whole[kind](path)
    data = path.read_bytes()
    cut = tmp_path / f"cut.{kind}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    return cut


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow, about the cut-off TIFF
@pytest.mark.parametrize("kind", ["jpg", "progressive.jpg", "png", "16.png", "16.tif"])
def test_truncated_file(tmp_path, kind):
    path = make_truncated(tmp_path, kind)
    message = one_line_error(load_photo, path)
    assert path.name in message and "incomplete" in message


def test_missing_file(tmp_path):
    assert one_line_error(load_photo, tmp_path / "gone.jpg") == "gone.jpg: the file does not exist (it may have been moved or deleted)"
    assert "does not exist" in one_line_error(probe_photo, tmp_path / "gone.jpg")


def test_directory(tmp_path):
    (tmp_path / "album.jpg").mkdir()
    assert "folder" in one_line_error(load_photo, tmp_path / "album.jpg")


def test_empty_file(tmp_path):
    (tmp_path / "holiday.jpg").write_bytes(b"")
    assert one_line_error(load_photo, tmp_path / "holiday.jpg") == "holiday.jpg: the file is empty (0 bytes)"


def test_text_saved_as_jpg(tmp_path):
    (tmp_path / "notes.jpg").write_text("Grandma's recipe for apple pie\n" * 20)
    message = one_line_error(load_photo, tmp_path / "notes.jpg")
    assert message.startswith("notes.jpg:") and "not an image" in message
    assert "not an image" in one_line_error(probe_photo, tmp_path / "notes.jpg")


def test_random_bytes(tmp_path):
    (tmp_path / "noise.png").write_bytes(np.random.default_rng(5).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert "not an image" in one_line_error(load_photo, tmp_path / "noise.png")


@pytest.mark.parametrize("bits", [8, 16])
def test_corrupt_png_data(tmp_path, bits):
    dtype = np.uint16 if bits == 16 else np.uint8
    noise = np.random.default_rng(7).integers(0, np.iinfo(dtype).max, (32, 32, 3), dtype=dtype)
    data = bytearray(write_cv2(tmp_path / "bad.png", noise).read_bytes())
    data[len(data) // 2 : len(data) // 2 + 40] = bytes(40)  # inside the image data
    (tmp_path / "bad.png").write_bytes(bytes(data))
    assert one_line_error(load_photo, tmp_path / "bad.png").startswith("bad.png: the image data is damaged")


def test_corrupt_jpeg_header(tmp_path):
    data = bytearray(jpeg_bytes())
    data[2:200] = np.random.default_rng(6).integers(0, 256, 198, dtype=np.uint8).tobytes()
    (tmp_path / "bad.jpg").write_bytes(bytes(data))
    assert one_line_error(load_photo, tmp_path / "bad.jpg").startswith("bad.jpg")


def test_image_over_the_pixel_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    Image.new("RGB", (100, 50)).save(tmp_path / "scan.tif")
    decoded = []
    monkeypatch.setattr(imageio, "_decode_with_pillow", lambda *a: decoded.append(1))
    message = one_line_error(load_photo, tmp_path / "scan.tif", max_pixels=4000)
    assert message == "scan.tif is 0.005 MP; FR Studio refuses images over 0.004 MP"
    assert decoded == []


def test_pillow_decompression_bomb_becomes_our_message(tmp_path, monkeypatch):
    Image.new("RGB", (100, 50)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow errors above 2000 pixels
    message = one_line_error(load_photo, tmp_path / "bomb.png", max_pixels=3000)
    assert message == "bomb.png is 0.005 MP; FR Studio refuses images over 0.003 MP"
    # Allowed by our limit but refused by Pillow's: the message names the limit that applied.
    message = one_line_error(load_photo, tmp_path / "bomb.png", max_pixels=10_000)
    assert message == "bomb.png is 0.005 MP; FR Studio refuses images over 0.002 MP"
    assert "refuses" in one_line_error(probe_photo, tmp_path / "bomb.png")


def test_pillow_bomb_warning_as_error_becomes_our_message(tmp_path, monkeypatch):
    Image.new("RGB", (100, 50)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # Pillow warns above 4000 pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        message = one_line_error(load_photo, tmp_path / "big.png", max_pixels=10_000)
    assert message == "big.png is 0.005 MP; FR Studio refuses images over 0.004 MP"


def test_default_limit_message_is_in_megapixels():
    assert MAX_PIXELS == 200_000_000
    error = Image.DecompressionBombError("Image size (250000000 pixels) exceeds limit of 178956970 pixels, ...")
    message = imageio._pillow_refused_message(Path("scan.tif"), error, MAX_PIXELS, 178956970)
    assert message == "scan.tif is 250 MP; FR Studio refuses images over 200 MP"


def test_unsupported_format(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "old.ppm")
    message = one_line_error(load_photo, tmp_path / "old.ppm")
    assert message.startswith("old.ppm: PPM images are not supported")
    assert "not supported" in one_line_error(probe_photo, tmp_path / "old.ppm")


# ----- paths, probing, plain saves ------------------------------------------------------------


@pytest.mark.parametrize("bits", [8, 16])
def test_unicode_and_spaces_in_paths(tmp_path, bits):
    folder = tmp_path / "Grand-mère photos"
    folder.mkdir()
    pixels = colour_image(dtype=np.uint16 if bits == 16 else np.uint8)
    src = write_cv2(folder / "été 1952.png", pixels)
    assert probe_photo(src) == (64, 48, "PNG")
    photo = load_photo(src)
    out = save_photo(photo, photo.pixels, folder / "été 1952 restaurée.tif")
    np.testing.assert_array_equal(load_photo(out).pixels, pixels)
    assert "été 1952.jpg" in one_line_error(load_photo, folder / "été 1952.jpg")


def test_probe_reads_header_only(tmp_path, monkeypatch):
    Image.fromarray(colour_image()).save(tmp_path / "a.webp")
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("probe decoded pixels"))
    assert probe_photo(tmp_path / "a.webp") == (64, 48, "WEBP")


def test_save_image_plain(tmp_path):
    pixels = colour_image()
    out = save_image(pixels, tmp_path / "crop.png")
    np.testing.assert_array_equal(load_photo(out).pixels, pixels)
    assert load_photo(save_image(pixels, tmp_path / "cmp.jpg")).format == "JPEG"
    assert load_photo(save_image(pixels, tmp_path / "cmp.bin", format="tiff")).format == "TIFF"
    assert "format" in one_line_error(save_image, pixels, tmp_path / "crop.xyz")
    grey = pixels[..., 1]
    with Image.open(save_image(grey, tmp_path / "grey.png")) as saved:
        assert saved.mode == "L" and np.array_equal(np.asarray(saved), grey)
    assert leftovers(tmp_path) == []


def test_too_wide_for_webp(tmp_path):
    message = one_line_error(save_image, np.zeros((1, 16_400, 3), np.uint8), tmp_path / "pano.webp")
    assert message == "pano.webp: 16400 x 1 pixels is too large for WebP (at most 16383 pixels a side); save as PNG or TIFF"
    assert list(tmp_path.iterdir()) == []


def test_saved_file_permissions_follow_umask(tmp_path):
    out = save_image(colour_image(), tmp_path / "a.png")
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


# ----- safe writing ---------------------------------------------------------------------------


def test_never_overwrites_the_input(tmp_path):
    Image.fromarray(colour_image()).save(tmp_path / "family.png")
    before = (tmp_path / "family.png").read_bytes()
    photo = load_photo(tmp_path / "family.png")
    (tmp_path / "sub").mkdir()
    for dest in (tmp_path / "family.png", tmp_path / "sub" / ".." / "family.png", str(tmp_path / "family.png")):
        assert "original" in one_line_error(save_photo, photo, photo.pixels, dest)
    os.link(tmp_path / "family.png", tmp_path / "hardlink.png")
    one_line_error(save_photo, photo, photo.pixels, tmp_path / "hardlink.png")
    assert (tmp_path / "family.png").read_bytes() == before
    assert leftovers(tmp_path) == []


def test_replacing_an_earlier_output_is_allowed(tmp_path):
    photo = load_photo(write_cv2(tmp_path / "a.png", colour_image()))
    save_photo(photo, photo.pixels, tmp_path / "restored.png")
    brighter = np.minimum(photo.pixels.astype(int) + 10, 255).astype(np.uint8)
    save_photo(photo, brighter, tmp_path / "restored.png")
    np.testing.assert_array_equal(load_photo(tmp_path / "restored.png").pixels, brighter)


def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path, monkeypatch):
    photo = load_photo(write_cv2(tmp_path / "a.png", colour_image()))
    dest = tmp_path / "restored.png"
    dest.write_bytes(b"earlier result")

    def disk_full(path, out, quality):
        Path(path).write_bytes(b"half a png")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(imageio._ENCODERS, "PNG", disk_full)
    message = one_line_error(save_photo, photo, photo.pixels, dest)
    assert message == f"cannot write restored.png to {tmp_path}: the disk is full"
    assert dest.read_bytes() == b"earlier result"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "code, words", [(errno.EROFS, "the folder is read-only"), (errno.EACCES, "permission denied")]
)
def test_unwritable_folder(tmp_path, monkeypatch, code, words):
    def refuse(folder, name):
        raise OSError(code, os.strerror(code), str(folder / name))

    # Simulated: as root a chmod 0o555 folder stays writable.
    monkeypatch.setattr(files, "_create_temp_file", refuse)
    message = one_line_error(save_image, colour_image(), tmp_path / "out.png")
    assert message == f"cannot write to {tmp_path}: {words}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_really_read_only_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert "permission denied" in one_line_error(save_image, colour_image(), folder / "out.png")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_missing_folder(tmp_path):
    message = one_line_error(save_image, colour_image(), tmp_path / "nowhere" / "out.png")
    assert message == f"cannot write to {tmp_path / 'nowhere'}: the folder does not exist"


def test_atomic_write_cleans_up_after_any_error(tmp_path):
    def broken(path: Path) -> None:
        path.write_bytes(b"partial")
        raise ValueError("encoder bug")

    with pytest.raises(ValueError):
        atomic_write(tmp_path / "x.png", broken)
    assert list(tmp_path.iterdir()) == []
    written = atomic_write(tmp_path / "y.bin", lambda p: p.write_bytes(b"ok"))
    assert written.read_bytes() == b"ok" and leftovers(tmp_path) == []


@pytest.mark.parametrize("fmt, name", [("JPEG", "a.jpg"), ("PNG", "a.png"), ("PNG", "a16.png"), ("TIFF", "a.tif"), ("WEBP", "a.webp"), ("BMP", "a.bmp")])
def test_an_output_written_short_is_an_error_and_leaves_nothing(tmp_path, monkeypatch, fmt, name):
    """A nearly full disk: Pillow's encoders write through the file descriptor and ignore a short write, so
    the encoder returns normally with the file cut short. That must fail like a full disk, not pass as saved."""
    pixels = colour_image(dtype=np.uint16 if "16" in name else np.uint8)
    dest = tmp_path / name
    dest.write_bytes(b"earlier result")
    encoder = imageio._ENCODERS[fmt]

    def short_write(path, out, quality):
        encoder(path, out, quality)
        data = Path(path).read_bytes()
        Path(path).write_bytes(data[: len(data) * 2 // 3])

    monkeypatch.setitem(imageio._ENCODERS, fmt, short_write)
    message = one_line_error(save_image, pixels, dest)
    assert message == f"cannot write {name} to {tmp_path}: it was written incompletely (the disk may be full)"
    assert dest.read_bytes() == b"earlier result" and leftovers(tmp_path) == []
    monkeypatch.setitem(imageio._ENCODERS, fmt, encoder)
    np.testing.assert_array_equal(load_photo(save_image(pixels, dest)).pixels.shape, (48, 64, 3))


def test_an_empty_output_is_an_error(tmp_path):
    with pytest.raises(PhotoError, match="nothing was written"):
        atomic_write(tmp_path / "x.bin", lambda p: None)
    assert list(tmp_path.iterdir()) == []


def test_temp_file_is_hidden_part_file_in_the_same_folder(tmp_path):
    seen = []
    atomic_write(tmp_path / "z.png", lambda p: seen.append(p) or p.write_bytes(b"x"))
    assert seen[0].parent == tmp_path and seen[0].name.startswith(".") and seen[0].name.endswith(".part")


def test_bad_arrays_are_programming_errors(tmp_path):
    photo = load_photo(write_cv2(tmp_path / "a.png", colour_image()))
    with pytest.raises(ValueError):
        save_photo(photo, photo.pixels.astype(np.float32), tmp_path / "o.png")
    with pytest.raises(ValueError):
        save_photo(photo, photo.pixels[..., 0], tmp_path / "o.png")
    assert "GIF" in one_line_error(save_photo, photo, photo.pixels, tmp_path / "o.gif", format="GIF")
