"""Small nn.Modules for the export tests, loaded through edgeprune's `file.py:factory` loader.

Each covers a group of ops that must come out of PT2E + litert-torch as int8. Seeded, tiny (a few k params).
"""

from __future__ import annotations

import torch
from torch import nn


def _seeded(cls, *args):
    torch.manual_seed(0)
    m = cls(*args)
    # Non-trivial BatchNorm statistics so folding them is actually tested.
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    return m.eval()


class Residual(nn.Module):
    """conv+bn+relu, residual ADD then ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d(1), flatten + Linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.c1 = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.c2 = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8))
        self.mp = nn.MaxPool2d(2)
        self.c3 = nn.Conv2d(8, 12, 3, padding=1)
        self.ap = nn.AvgPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(self.c2(self.c1(x)) + x)
        x = self.mp(x)
        x = self.ap(torch.relu(self.c3(x)))
        return self.fc(torch.flatten(self.gap(x), 1))


class Concat(nn.Module):
    """torch.cat of conv branches and of pooling branches, standalone ReLU, mean((2,3)), Dropout, Softmax."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.a = nn.Conv2d(8, 6, 1)
        self.b = nn.Conv2d(8, 6, 3, padding=1)
        self.mp = nn.MaxPool2d(2)
        self.ap = nn.AvgPool2d(2)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(24, 6)

    def forward(self, x):
        x = self.stem(x)
        y = torch.relu(torch.cat([self.a(x), self.b(x)], dim=1))
        y = torch.cat([self.mp(y), self.ap(y)], dim=1)
        y = y.mean((2, 3))
        return torch.softmax(self.fc(self.drop(y)), dim=-1)


class Mobile(nn.Module):
    """Depthwise-separable (groups=channels) with ReLU6, grouped conv + Hardswish, global pool, Sigmoid head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU6())
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU6())
        self.pw = nn.Sequential(nn.Conv2d(8, 16, 1), nn.BatchNorm2d(16), nn.ReLU6())
        self.grouped = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=4), nn.BatchNorm2d(16))
        self.hs = nn.Hardswish()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(16, 16)
        self.fc2 = nn.Linear(16, 5)

    def forward(self, x):
        x = self.pw(self.dw(self.stem(x)))
        x = self.hs(self.grouped(x))
        x = torch.flatten(self.gap(x), 1)
        return torch.sigmoid(self.fc2(self.hs(self.fc1(x))))


def residual_net():
    return _seeded(Residual)


def concat_net():
    return _seeded(Concat)


def mobile_net():
    return _seeded(Mobile)


not_callable = 42


def not_a_module():
    return {"weights": 1}
