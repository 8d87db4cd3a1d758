import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facegraph.errors import ImageDecodeError
from facegraph.images import DEFAULT_MAX_SIDE, expand_paths, find_photos, image_id_of, iter_photos, read_photo


@pytest.fixture
def portrait(datasets) -> Image.Image:
    return Image.open(datasets / "five_celebs" / "Ben_Affleck" / "train_10.jpg").convert("RGB")


def test_reads_by_content_not_extension(datasets):
    path = datasets / "deepface_celebs" / "Scarlett_Johansson" / "img47.jpg"
    assert path.read_bytes()[8:12] == b"WEBP"
    photo = read_photo(path)
    assert photo.pixels.ndim == 3 and photo.pixels.shape[2] == 3 and photo.pixels.dtype == np.uint8


@pytest.mark.parametrize("suffix", [".jpg", ".heic", ".avif"])
def test_exif_orientation_is_applied_once(portrait, tmp_path, suffix):
    # Store the photo turned on its side with an EXIF tag saying "rotate 90° clockwise to view" (orientation 6).
    # pillow-heif and Pillow's AVIF also write it as the HEIF rotation (`irot`), as iPhones do.
    upright = portrait.crop((0, 0, 140, 100))  # not square, so a missed or doubled turn shows in the size
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.transpose(Image.Transpose.ROTATE_90).save(tmp_path / f"rotated{suffix}", exif=exif.tobytes(), quality=95)
    photo = read_photo(tmp_path / f"rotated{suffix}")
    assert (photo.width, photo.height) == upright.size == (140, 100)
    difference = np.abs(photo.pixels.astype(int) - np.asarray(upright, dtype=int)).mean()
    assert difference < 6, f"oriented photo differs from the original by {difference:.1f} grey levels on average"


def _red_and_blue(size=(96, 64)) -> Image.Image:
    """Left half red, right half blue."""
    image = Image.new("RGB", size, (255, 0, 0))
    image.paste((0, 0, 255), (size[0] // 2, 0, *size))
    return image


@pytest.mark.parametrize("suffix, brand", [(".heic", b"heic"), (".avif", b"avif")])
def test_heic_and_avif_photos_are_read(tmp_path, suffix, brand):
    path = tmp_path / f"photo{suffix}"
    _red_and_blue().save(path, quality=90)
    assert path.read_bytes()[4:12] == b"ftyp" + brand  # a real HEIF/AVIF file from the codec, not a renamed PNG
    photo = read_photo(path)
    assert (photo.width, photo.height) == (96, 64) and photo.pixels.shape == (64, 96, 3)
    np.testing.assert_allclose(photo.pixels[32, 24], [255, 0, 0], atol=12)
    np.testing.assert_allclose(photo.pixels[32, 72], [0, 0, 255], atol=12)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16"])
def test_every_mode_becomes_rgb(portrait, tmp_path, mode):
    if mode == "I;16":
        image = Image.fromarray(np.asarray(portrait.convert("L"), dtype=np.uint16) * 257)  # 16-bit grayscale
    else:
        image = portrait.convert(mode)
    path = tmp_path / ("photo.tif" if mode == "CMYK" else "photo.png")
    image.save(path)
    pixels = read_photo(path).pixels
    assert pixels.shape == (*portrait.size[::-1], 3) and pixels.dtype == np.uint8
    # The content survives: not blown out to white or black.
    grey = np.asarray(portrait.convert("L"), dtype=float)
    assert abs(pixels.mean() - grey.mean()) < 25


def test_transparent_areas_become_white(portrait, tmp_path):
    image = portrait.convert("RGBA")
    image.putalpha(0)
    image.save(tmp_path / "clear.png")
    assert read_photo(tmp_path / "clear.png").pixels.min() == 255


def test_large_jpeg_is_decoded_at_a_reduced_scale(portrait, tmp_path):
    # 54 MP is above MAX_DECODE_PIXELS: it reads only because JPEG decodes at half scale (draft).
    portrait.resize((9000, 6000)).save(tmp_path / "large.jpg", quality=80)
    photo = read_photo(tmp_path / "large.jpg")
    assert max(photo.pixels.shape[:2]) == DEFAULT_MAX_SIDE
    assert (photo.width, photo.height) == (9000, 6000)
    assert photo.scale == pytest.approx(9000 / photo.pixels.shape[1])


def _write_black_png(path: Path, width: int, height: int) -> None:
    """A black 1-bit PNG written row by row, never holding its pixels: it compresses to a few kB."""
    row = bytes(1 + (width + 7) // 8)  # filter type 0, then the row's packed bits
    packer = zlib.compressobj(9)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow warns from 89 MP
@pytest.mark.parametrize("keep", [None, 100], ids=["whole", "header only"])
def test_huge_png_is_refused_from_its_header(tmp_path, keep):
    path = tmp_path / "huge.png"
    _write_black_png(path, 16000, 10600)
    # Cut to the header and the start of the pixels, the file cannot be decoded: the size reason shows that the
    # check comes first.
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(ImageDecodeError, match=r"16000 x 10600 pixels \(169\.6 MP\) is above the 50 MP that "
                                               r"facegraph decodes in full; shrink it first"):
        read_photo(path)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow warns from 89 MP
def test_huge_progressive_jpeg_is_refused_from_its_header(portrait, tmp_path):
    # A progressive JPEG holds every coefficient of the full image while it decodes, even at a reduced scale
    # (13000 x 13000 took 727 MB): its header is enough to refuse it. A small one, its frame header saying
    # 13000 x 13000, stands in for the real thing.
    small = tmp_path / "small.jpg"
    portrait.resize((64, 64)).save(small, progressive=True)
    data = bytearray(small.read_bytes())
    frame = data.index(b"\xff\xc2")  # SOF2: progressive frame header (length, precision, height, width)
    data[frame + 5 : frame + 9] = struct.pack(">HH", 13000, 13000)
    (tmp_path / "huge.jpg").write_bytes(bytes(data))
    with pytest.raises(ImageDecodeError, match=r"13000 x 13000 pixels \(169\.0 MP\) is above the 50 MP"):
        read_photo(tmp_path / "huge.jpg")
    assert read_photo(small).pixels.shape == (64, 64, 3)  # a progressive JPEG of a sane size reads


def test_broken_files_raise_an_error_naming_the_file(broken_files):
    for name, path in broken_files.items():
        with pytest.raises(ImageDecodeError) as caught:
            read_photo(path)
        assert caught.value.path == str(path) and caught.value.reason, name
        assert name in str(caught.value)


def test_image_id_depends_on_content_only(datasets, tmp_path):
    original = datasets / "five_celebs" / "Ben_Affleck" / "train_10.jpg"
    (tmp_path / "copy with another name.jpeg").write_bytes(original.read_bytes())
    assert read_photo(original).image_id == read_photo(tmp_path / "copy with another name.jpeg").image_id
    assert image_id_of(b"a") != image_id_of(b"b") and len(image_id_of(b"a")) == 16


def test_a_known_photo_is_read_once_and_not_decoded(broken_files):
    from facegraph.images import KnownPhoto, image_id_of, iter_photos

    corrupt = broken_files["truncated.jpg"]
    known = {image_id_of(corrupt.read_bytes())}
    [result] = iter_photos([corrupt], is_known=known.__contains__)
    assert result == KnownPhoto(str(corrupt), next(iter(known)))  # decoding it would have failed
    [error] = iter_photos([corrupt])
    assert isinstance(error, ImageDecodeError)


@pytest.fixture
def odd_folder(portrait, tmp_path) -> Path:
    """A photo folder holding photos and, beside them, every kind of entry that looks like a photo but is not."""
    folder, elsewhere = tmp_path / "photos", tmp_path / "elsewhere"
    for sub in (folder / "album", folder / "folder.jpg", elsewhere):
        sub.mkdir(parents=True)
    for photo in (folder / "good.jpg", folder / "album" / "a.jpg", folder / "folder.jpg" / "in.png",
                  elsewhere / "b.jpg"):
        portrait.save(photo)
    (folder / "good.xmp").write_text("a sidecar file, not a photo")
    (folder / "broken.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (folder / "loop.jpg").symlink_to("loop.jpg")
    os.mkfifo(folder / "pipe.jpg")
    (folder / "album" / "back").symlink_to("..")  # a cycle: album/back/album/back/...
    (folder / "linked").symlink_to(elsewhere)
    return folder


def test_every_entry_that_looks_like_a_photo_is_listed_once(odd_folder):
    found = [path.relative_to(odd_folder).as_posix() for path in find_photos(odd_folder)]
    assert found == ["album/a.jpg", "broken.jpg", "folder.jpg", "folder.jpg/in.png", "good.jpg", "linked/b.jpg",
                     "loop.jpg", "pipe.jpg"]


def test_every_entry_that_is_not_read_gets_a_reason(odd_folder):
    results = {Path(item.path).relative_to(odd_folder).as_posix(): item
               for item in iter_photos(expand_paths([odd_folder]))}
    reasons = {name: item.reason for name, item in results.items() if isinstance(item, ImageDecodeError)}
    assert reasons == {
        "broken.jpg": "broken symbolic link (its target does not exist)",
        "folder.jpg": "is a folder, not a photo",
        "loop.jpg": "symbolic link loop",
        "pipe.jpg": "is a pipe, socket or device, not a photo file",
    }
    assert results.keys() - reasons.keys() == {"album/a.jpg", "folder.jpg/in.png", "good.jpg", "linked/b.jpg"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root may read any file, so permissions cannot be denied")
def test_unreadable_file_and_folder_are_reported(portrait, tmp_path):
    (tmp_path / "locked").mkdir()
    portrait.save(tmp_path / "locked" / "hidden.jpg")
    portrait.save(tmp_path / "private.jpg")
    for path in (tmp_path / "locked", tmp_path / "private.jpg"):
        path.chmod(0)
    try:
        reasons = {Path(e.path).name: e.reason for e in iter_photos(find_photos(tmp_path))}
    finally:
        (tmp_path / "locked").chmod(0o755)  # so that pytest can remove it
    assert reasons == {"locked": "folder cannot be listed (permission denied); the photos in it are not read",
                       "private.jpg": "permission denied"}
