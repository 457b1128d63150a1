"""Image folders (``<root>/<class>/*.png``): discovery, the channel and size decisions, reading.

Classes are the sorted subfolder names (torchvision's ImageFolder convention); hidden
folders such as ``.ipynb_checkpoints`` are skipped. Every file's header is read before
training, so an unreadable file fails at the start, not hours in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import Dataset

from trainforge.data.augment import Augmentation
from trainforge.data.seeding import derive_seed
from trainforge.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
GRAYSCALE_MODES = frozenset({"1", "L", "LA"})
STATS_SAMPLE = 2000  # images read for augmentation.normalize: dataset (enough for 3 decimals)


@dataclass
class ImageList:
    paths: list[str]
    labels: list[int] | None  # None: a flat folder of unlabelled images
    classes: list[str] | None


def _subfolders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images_in(folder: Path, recursive: bool = True) -> list[str]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        str(p)
        for p in found
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() and not p.name.startswith(".")
    )


def list_class_folder(root: Path, where: str, known: Sequence[str] | None = None) -> ImageList:
    """Images and class indices of ``<root>/<class>/...``; ``known`` fixes the class order."""
    if not root.is_dir():
        problem = "is not a folder" if root.exists() else "does not exist"
        raise DataError(f"{where}: {root} {problem}; give an image folder <root>/<class>/*.png")
    folders = _subfolders(root)
    if not folders:
        if _images_in(root, recursive=False):
            raise DataError(
                f"{where}: {root} holds images but no class subfolders; "
                "move them into <root>/<class name>/ folders"
            )
        raise DataError(f"{where}: image folder {root} is empty; expected <root>/<class>/*.png")
    classes = [f.name for f in folders]
    if known is not None:
        unknown = [c for c in classes if c not in known]
        if unknown:
            raise DataError(
                f"{where}: class folder(s) {', '.join(unknown)} in {root} do not occur in the "
                f"training data (training classes: {', '.join(known)}); use the same classes"
            )
    order = list(known) if known is not None else classes
    paths: list[str] = []
    labels: list[int] = []
    for folder in folders:
        files = _images_in(folder)
        if not files:
            raise DataError(
                f"{where}: class folder {folder} has no images ({', '.join(IMAGE_EXTENSIONS)}); "
                "add images or remove the folder"
            )
        paths += files
        labels += [order.index(folder.name)] * len(files)
    return ImageList(paths, labels, order)


def list_any_folder(root: Path, where: str, known: Sequence[str] | None) -> ImageList:
    """Class subfolders (labelled) or, without subfolders, a flat folder of images."""
    if _subfolders(root):
        return list_class_folder(root, where, known)
    files = _images_in(root, recursive=False)
    if not files:
        raise DataError(f"{where}: folder {root} has no images ({', '.join(IMAGE_EXTENSIONS)})")
    return ImageList(files, None, None)


def _header(path: str) -> tuple[str, tuple[int, int]]:
    try:
        with Image.open(path) as im:
            return im.mode, (im.height, im.width)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot read image {path} ({exc}); replace or remove the file") from None


def scan_headers(paths: Sequence[str]) -> list[tuple[str, tuple[int, int]]]:
    """(mode, (height, width)) of every file; threads, since this is mostly waiting on disk."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(_header, paths))


def decide_mode(modes: Sequence[str]) -> str:
    """One channel when every image is grayscale, else RGB (grayscale images are repeated)."""
    return "L" if all(m in GRAYSCALE_MODES for m in modes) else "RGB"


def resize_hw(resize: int | list[int] | None) -> tuple[int, int] | None:
    if resize is None:
        return None
    return (resize, resize) if isinstance(resize, int) else (resize[0], resize[1])


def decide_size(
    sizes: Sequence[tuple[int, int]], resize: tuple[int, int] | None
) -> tuple[tuple[int, int], list[str]]:
    """(height, width) all images get: ``resize``, else the common size, else the most common."""
    if resize is not None:
        return resize, []
    counts = Counter(sizes)
    if len(counts) == 1:
        return sizes[0], []
    # most frequent; ties go to the larger image (less detail lost), then to the taller
    (h, w), _ = max(counts.items(), key=lambda kv: (kv[1], kv[0][0] * kv[0][1], kv[0]))
    notice = (
        f"images have {len(counts)} different sizes; all are resized to the most common, "
        f"{h}x{w} (set augmentation.resize to choose)"
    )
    return (h, w), [notice]


def read_image(path: str, mode: str, hw: tuple[int, int]) -> torch.Tensor:
    """One file as uint8 [C, H, W] in ``mode`` ("L" or "RGB") at size ``hw``."""
    try:
        with Image.open(path) as im:
            converted = im.convert(mode)
            if (converted.height, converted.width) != hw:
                converted = converted.resize((hw[1], hw[0]), Image.Resampling.BILINEAR)
            array = np.array(converted, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot read image {path} ({exc}); replace or remove the file") from None
    tensor = torch.from_numpy(array)
    return tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()


def read_images(paths: Sequence[str], mode: str, hw: tuple[int, int]) -> torch.Tensor:
    """Files as float32 [N, C, H, W] with raw values 0..255 (what build_preprocess expects)."""
    return torch.stack([read_image(p, mode, hw) for p in paths]).to(torch.float32)


def stats_sample(n: int, seed: int) -> list[int]:
    """Which training images feed the dataset statistics: all, or a fixed random subset."""
    if n <= STATS_SAMPLE:
        return list(range(n))
    rng = np.random.default_rng(derive_seed(seed, "stats"))
    return sorted(rng.choice(n, STATS_SAMPLE, replace=False).tolist())


def scaled_batches(
    paths: Sequence[str], mode: str, hw: tuple[int, int], scale: float, batch: int = 256
) -> Iterator[torch.Tensor]:
    for start in range(0, len(paths), batch):
        yield read_images(paths[start : start + batch], mode, hw) * scale


class ImageFiles(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Image files read, preprocessed and augmented on demand; items are (epoch, index)."""

    def __init__(
        self,
        paths: list[str],
        labels: list[int],
        mode: str,
        hw: tuple[int, int],
        preprocess: nn.Module,
        augmentation: Augmentation | None,
    ) -> None:
        self.paths = paths
        self.labels = labels
        self.mode = mode
        self.hw = hw
        self.preprocess = preprocess
        self.augmentation = augmentation

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        epoch, index = key
        raw = read_image(self.paths[index], self.mode, self.hw).to(torch.float32)
        with torch.no_grad():
            image = self.preprocess(raw.unsqueeze(0))[0]
        if self.augmentation is not None:
            image = self.augmentation.apply(image, epoch, index)
        return image, torch.tensor(self.labels[index], dtype=torch.int64)
