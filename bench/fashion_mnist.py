"""Fashion-MNIST for the pruning bench: the idx files, the reference model, and data loaders.

The data come from Debian's `dataset-fashion-mnist` (`apt-get install dataset-fashion-mnist`, files in
/usr/share/datasets/fashion-mnist; another folder with the same four idx .gz files via $FASHION_MNIST_DIR).

Also usable from the command line:
    edgeprune prune bench/fashion_mnist.py:model --input-shape 1,1,28,28 --data bench/fashion_mnist.py:loaders ...
`loaders()` gives (train, validation): the first 55,000 training images (shuffled with a fixed seed) and the last
5,000 as the validation split; the 10,000 test images are only for the final numbers (`test_set()`).
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from edgeprune.testing.torch_nets import ResidualNet

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MEAN, STD = 0.2860, 0.3530  # of the training images scaled to [0, 1]
N_VAL = 5000
WIDTH = 16


def data_dir() -> Path:
    return Path(os.environ.get("FASHION_MNIST_DIR", DEFAULT_DIR))


def available() -> bool:
    d = data_dir()
    return all((d / f).is_file() for pair in FILES.values() for f in pair)


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an idx file of unsigned bytes")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {arr.size} values, the header says {shape}")
    return arr.reshape(shape).copy()  # writable


_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def load(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 N x 28 x 28, labels int64 N) of "train" (60,000) or "test" (10,000)."""
    if split not in _CACHE:
        d = data_dir()
        images, labels = (d / f for f in FILES[split])
        if not images.is_file() or not labels.is_file():
            raise FileNotFoundError(f"{images} not found: apt-get install dataset-fashion-mnist "
                                    f"(or set FASHION_MNIST_DIR)")
        _CACHE[split] = (_read_idx(images), _read_idx(labels).astype(np.int64))
    return _CACHE[split]


def normalize(images: np.ndarray):
    """uint8 N x 28 x 28 -> float32 torch tensor N x 1 x 28 x 28, standardized."""
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    return x.sub_(MEAN).div_(STD).unsqueeze(1)


def tensors(split: str, limit: int | None = None):
    """Normalized (inputs, labels) tensors of a split; `limit` keeps the first `limit` samples."""
    images, labels = load(split)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return normalize(images), torch.from_numpy(labels)


class FashionResNet(ResidualNet):
    """ResidualNet (edgeprune.testing.torch_nets) with a stride-2 stem: 28x28 -> 14x14 -> 7x7.

    conv-bn-relu stem, a residual block at 14x14, a downsampling residual block with a 1x1 shortcut at 7x7,
    global average pool, linear. Width 16: 1.6M MACs, small enough to train on two CPU cores."""

    def __init__(self, width: int = WIDTH, classes: int = 10):
        super().__init__(in_channels=1, classes=classes, width=width, stem_stride=2)


def model(width: int = WIDTH) -> nn.Module:
    """The reference CNN (a factory for `edgeprune prune bench/fashion_mnist.py:model`)."""
    return FashionResNet(width)


def loaders(batch_size: int = 128, train_limit: int | None = None, seed: int = 0):
    """(train, validation) DataLoaders: a fixed shuffle of the 60,000 training images split 55,000 / 5,000.

    `train_limit` keeps the first `train_limit` training samples (for quick runs)."""
    x, y = tensors("train")
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    train_idx, val_idx = order[: len(y) - N_VAL], order[len(y) - N_VAL :]
    if train_limit is not None:
        train_idx = train_idx[:train_limit]
        val_idx = val_idx[: max(train_limit // 4, 1)]
    train = DataLoader(TensorDataset(x[train_idx], y[train_idx]), batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(seed + 1))
    val = DataLoader(TensorDataset(x[val_idx], y[val_idx]), batch_size=1000)
    return train, val


def test_loader(limit: int | None = None, batch_size: int = 1000):
    return DataLoader(TensorDataset(*tensors("test", limit)), batch_size=batch_size)
