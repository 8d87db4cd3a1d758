"""Reading photos: by content, EXIF-oriented, any mode to RGB, bounded in size and in decoding memory.

HEIC/HEIF (the iPhone default) is read through pillow-heif, AVIF through Pillow's own plugin.

`image_id` is the first 16 hex digits of the SHA-256 of the file's bytes: the same photo gets the same id in any
run, under any name or folder, and a changed file gets a new one.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from facegraph.errors import ImageDecodeError, InvalidRequestError

# libheif applies the HEIF rotation (`irot`/`imir`) itself and pillow-heif then resets the EXIF orientation to 1,
# so exif_transpose below leaves HEIC photos as they are: orientation is applied once.
register_heif_opener()

DEFAULT_MAX_SIDE = 2048
DEFAULT_BATCH_SIZE = 32  # photos decoded (and detected) together
# Phone photos are 12 to 48 MP; 50 MP of RGB is 150 MB. A format that cannot decode at a reduced scale is refused
# above this before its pixels are decoded, so one huge PNG cannot take gigabytes (Pillow's own guard is 179 MP).
MAX_DECODE_PIXELS = 50_000_000
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif", ".avif"}
_ROTATED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class Photo:
    """A decoded photo. `pixels` is RGB uint8 of at most `max_side` per side; `scale` maps its pixel
    coordinates back to the oriented, full-size photo (`width` x `height`)."""

    path: str
    image_id: str
    pixels: np.ndarray
    width: int
    height: int
    scale: float


def image_id_of(data: bytes) -> str:
    """The stable id of a photo file's content."""
    return hashlib.sha256(data).hexdigest()[:16]


def read_photo(path: str | os.PathLike, *, max_side: int = DEFAULT_MAX_SIDE) -> Photo:
    """Read a photo file by its content, whatever its extension.

    Raises `ImageDecodeError` naming the file and the reason when it is empty, truncated, corrupt or not an image.
    """
    data = read_file(path)
    return decode_photo(str(path), data, image_id_of(data), max_side=max_side)


def read_file(path: str | os.PathLike) -> bytes:
    """A photo file's bytes (`ImageDecodeError` saying why if it cannot be read or is empty)."""
    path = Path(path)
    try:
        kind = path.stat().st_mode  # follows links: a broken link or a link loop fails here
        if not stat.S_ISREG(kind):
            raise ImageDecodeError(str(path), _not_a_file(path, kind))
        data = path.read_bytes()
    except OSError as exc:
        raise ImageDecodeError(str(path), _unreadable(path, exc)) from exc
    if not data:
        raise ImageDecodeError(str(path), "file is empty")
    return data


def _not_a_file(path: Path, kind: int) -> str:
    if not stat.S_ISDIR(kind):
        return "is a pipe, socket or device, not a photo file"  # reading it could block or never end
    if not os.access(path, os.R_OK | os.X_OK):
        return "folder cannot be listed (permission denied); the photos in it are not read"
    return "is a folder, not a photo"


def _unreadable(path: Path, exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if isinstance(exc, FileNotFoundError):
        return "broken symbolic link (its target does not exist)" if path.is_symlink() else "file does not exist"
    return f"cannot read file ({exc.strerror})"


def decode_photo(path: str, data: bytes, image_id: str, *, max_side: int = DEFAULT_MAX_SIDE) -> Photo:
    """The photo in a file's bytes, oriented, RGB, at most `max_side` per side.

    Only the header is read before the size check: a photo that would decode to more than `MAX_DECODE_PIXELS` is
    refused with `ImageDecodeError`, its pixels never decoded.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            full_size = image.size
            # JPEG can decode at 1/2, 1/4 or 1/8 scale (HEIF from a large enough embedded thumbnail): very large
            # photos are never decoded in full.
            image.draft("RGB", (max_side, max_side))
            # a progressive JPEG keeps every coefficient of the full image while it decodes, whatever the scale
            _refuse_huge(path, full_size, full_size if image.info.get("progressive") else image.size)
            # After the size check: PNG's getexif() decodes the whole image to look for EXIF after the pixels.
            rotated = image.getexif().get(_EXIF_ORIENTATION) in _ROTATED_ORIENTATIONS
            width, height = full_size[::-1] if rotated else full_size
            image = ImageOps.exif_transpose(image)
            pixels = _to_rgb(image)
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(path, "not a recognised image format") from exc
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(path, f"too large to decode safely ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(path, f"corrupt or truncated image ({exc})") from exc
    pixels = _bound(pixels, max_side)
    return Photo(path, image_id, pixels, width, height, scale=width / pixels.shape[1])


def _refuse_huge(path: str, full_size: tuple[int, int], decode_size: tuple[int, int]) -> None:
    if decode_size[0] * decode_size[1] > MAX_DECODE_PIXELS:
        width, height = full_size
        raise ImageDecodeError(
            path, f"{width} x {height} pixels ({width * height / 1e6:.1f} MP) is above the "
                  f"{MAX_DECODE_PIXELS / 1e6:.0f} MP that facegraph decodes in full; shrink it first")


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode (grayscale, 16-bit, palette, alpha, CMYK) as RGB uint8."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # 16-bit and float grayscale: Pillow's convert() clips these to white, so rescale by hand.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.clip(values * (255.0 / top), 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas become white, as most viewers show them.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"))


def _bound(pixels: np.ndarray, max_side: int) -> np.ndarray:
    height, width = pixels.shape[:2]
    if max(height, width) <= max_side:
        return np.ascontiguousarray(pixels)
    import cv2  # here, not at the top: `facegraph.settings` reads this module's defaults without loading OpenCV

    factor = max_side / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def find_photos(folder: str | os.PathLike) -> list[Path]:
    """Every entry under `folder` whose name has an image suffix, sorted, so runs see photos in the same order.

    Files are still read by content; the suffix only keeps stray text and sidecar files out of a batch. Entries that
    are not readable photo files (a folder named `x.jpg`, a broken link, a link loop, a file without permission)
    are kept, so that reading them reports why instead of skipping them in silence; so is a subfolder that cannot
    be listed. Links to folders are followed, each real folder once: a link back to a parent, or a second link to
    the same folder, adds nothing.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"photo folder {folder} does not exist or is not a folder")
    found: list[Path] = []
    seen: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=True, onerror=lambda exc: found.append(Path(exc.filename))):
        real = os.path.realpath(root)
        if real in seen:
            dirs.clear()  # reached again through a link: listed already
            continue
        seen.add(real)
        dirs.sort()  # a folder reached by two paths is listed under the same one in every run
        found.extend(Path(root, name) for name in dirs + files if Path(name).suffix.lower() in IMAGE_SUFFIXES)
    return sorted(set(found))  # a folder named x.jpg that cannot be listed comes twice


def expand_paths(paths) -> list[Path]:
    """Files as given, folders as the photos under them (sorted). An empty path is refused: it would name the
    current folder (a shell variable that expanded to nothing)."""
    found: list[Path] = []
    for given in paths:
        if not os.fspath(given):
            raise InvalidRequestError("an empty path names no photo or folder (a variable that expanded to nothing?); "
                                      "give . for the current folder")
        path = Path(given)
        found.extend(find_photos(path) if path.is_dir() else [path])
    return found


@dataclass(frozen=True)
class KnownPhoto:
    """A photo whose content the caller already has: read (to know its id) but not decoded."""

    path: str
    image_id: str


def iter_photos(paths, *, max_side: int = DEFAULT_MAX_SIDE,
                is_known: Callable[[str], bool] | None = None) -> Iterator[Photo | KnownPhoto | ImageDecodeError]:
    """Read each path once, in turn, yielding the photo, the error that names it, or (where `is_known` says so
    of its image id) a `KnownPhoto` that is not decoded."""
    for path in paths:
        try:
            data = read_file(path)
            image_id = image_id_of(data)
            if is_known is not None and is_known(image_id):
                yield KnownPhoto(str(path), image_id)
            else:
                yield decode_photo(str(path), data, image_id, max_side=max_side)
        except ImageDecodeError as exc:
            yield exc
        except Exception as exc:  # a decoder's own bug on one odd file must not stop the batch
            yield ImageDecodeError(str(path), f"could not be read ({type(exc).__name__}: {exc})")


def photo_files(folder: str | os.PathLike, *, recursive: bool = True) -> list[Path]:
    """The entries named like photos in `folder` (`find_photos`), or only those directly in it."""
    folder = Path(folder)
    if recursive:
        return find_photos(folder)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []


def positively_gone(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """Whether the file `path` (under the folder `root`) is known not to exist: the file system says there is no
    such entry, and its nearest folder that exists (up to `root`) can be listed. A file behind a folder that
    cannot be read, a share that is not mounted or a failing disk is not gone: it cannot be seen."""
    path, root = Path(path), Path(root)
    try:
        os.lstat(path)
        return False  # it is there
    except FileNotFoundError:
        pass
    except OSError:
        return False  # no permission, a stale mount, an I/O error: unknown
    folder = path.parent
    while True:
        try:
            with os.scandir(folder):
                return True  # the folder it would be in is there and readable, without it
        except FileNotFoundError:
            if folder == root or root not in folder.parents:
                return False  # the sync's own folder is gone: not mounted, or moved, not emptied
            folder = folder.parent
        except OSError:
            return False


def photo_ids_of(paths) -> dict[str, list[str]]:
    """image id -> the paths (resolved, sorted) among `paths` of the readable photo files that hold that
    content. Files are read and hashed, not decoded."""
    found: dict[str, list[str]] = {}
    for path in map(Path, paths):
        try:
            found.setdefault(image_id_of(read_file(path)), []).append(str(path.resolve()))
        except ImageDecodeError:
            continue  # not a readable photo: nothing of it is present
    return {image_id: sorted(places) for image_id, places in found.items()}
