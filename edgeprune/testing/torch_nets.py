"""Small PyTorch networks with the structures pruning must respect: residual adds, concatenation,
depthwise-separable blocks, and a linear layer after flatten. Used by tests and examples."""

from __future__ import annotations

import torch
import torch.nn as nn


class ResidualNet(nn.Module):
    """conv-bn-relu stem (stride `stem_stride`), two residual blocks (one downsampling with a 1x1 shortcut),
    global pool, linear."""

    def __init__(self, in_channels: int = 1, classes: int = 10, width: int = 16, stem_stride: int = 1):
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(in_channels, w, 3, stride=stem_stride, padding=1, bias=False),
                                  nn.BatchNorm2d(w), nn.ReLU())
        self.b1 = nn.Sequential(nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                                nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w))
        self.b2 = nn.Sequential(nn.Conv2d(w, 2 * w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * w),
                                nn.ReLU(), nn.Conv2d(2 * w, 2 * w, 3, padding=1, bias=False), nn.BatchNorm2d(2 * w))
        self.short = nn.Sequential(nn.Conv2d(w, 2 * w, 1, stride=2, bias=False), nn.BatchNorm2d(2 * w))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * w, classes)

    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(self.b1(x) + x)
        x = torch.relu(self.b2(x) + self.short(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class ConcatDepthwiseNet(nn.Module):
    """Two branches concatenated, a depthwise-separable block, then flatten into a linear layer."""

    def __init__(self, in_channels: int = 1, classes: int = 10):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(in_channels, 8, 3, padding=1), nn.ReLU())
        self.b = nn.Sequential(nn.Conv2d(in_channels, 8, 5, padding=2), nn.ReLU())
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=16), nn.BatchNorm2d(16), nn.ReLU())
        self.pw = nn.Sequential(nn.Conv2d(16, 24, 1), nn.BatchNorm2d(24), nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(24 * 7 * 7, classes)

    def forward(self, x):
        x = torch.cat([self.a(x), self.b(x)], dim=1)
        x = self.pool(self.pw(self.dw(x)))
        return self.fc(torch.flatten(x, 1))


def quadrant_loaders(n: int = 256, seed: int = 0, batch_size: int = 32):
    """(train, validation) loaders of a small learnable task on 1x28x28 inputs: the class (0-3) is the
    quadrant holding a bright square. Three quarters train, one quarter validate."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 28, 28, generator=g) * 0.3
    y = torch.randint(0, 4, (n,), generator=g)
    for i in range(n):
        r, c = divmod(int(y[i]), 2)
        x[i, 0, r * 14 : r * 14 + 14, c * 14 : c * 14 + 14] += 1.0
    ds = torch.utils.data.TensorDataset(x, y)
    train = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, range(0, n * 3 // 4)), batch_size=batch_size,
                                        shuffle=True, generator=torch.Generator().manual_seed(seed + 1))
    val = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, range(n * 3 // 4, n)), batch_size=64)
    return train, val
