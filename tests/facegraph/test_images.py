
import numpy as np
import pytest
from PIL import Image

from facegraph.errors import ImageDecodeError
from facegraph.images import image_id_of, read_photo


@pytest.fixture
def portrait(datasets) -> Image.Image:
    return Image.open(datasets / "five_celebs" / "Ben_Affleck" / "train_10.jpg").convert("RGB")


def test_reads_by_content_not_extension(datasets):
    path = datasets / "deepface_celebs" / "Scarlett_Johansson" / "img47.jpg"
    assert path.read_bytes()[8:12] == b"WEBP"
    photo = read_photo(path)
    assert photo.pixels.ndim == 3 and photo.pixels.shape[2] == 3 and photo.pixels.dtype == np.uint8


def test_exif_orientation_is_applied(portrait, tmp_path):
    # Store the photo turned on its side with an EXIF tag saying "rotate 90° clockwise to view" (orientation 6).
    sideways = portrait.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    photo = read_photo(tmp_path / "rotated.jpg")
    assert (photo.width, photo.height) == portrait.size
    difference = np.abs(photo.pixels.astype(int) - np.asarray(portrait, dtype=int)).mean()
    assert difference < 6, f"oriented photo differs from the original by {difference:.1f} grey levels on average"


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


def test_large_photo_is_bounded_before_full_decode(portrait, tmp_path):
    portrait.resize((6000, 4000)).save(tmp_path / "large.jpg", quality=80)
    photo = read_photo(tmp_path / "large.jpg", max_side=1024)
    assert max(photo.pixels.shape[:2]) <= 1024
    assert (photo.width, photo.height) == (6000, 4000)
    assert photo.scale == pytest.approx(6000 / photo.pixels.shape[1])


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
