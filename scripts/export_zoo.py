#!/usr/bin/python3
"""The model zoo: models as people write them in PyTorch, exported with torch.onnx.export, each with
PyTorch's own results for one training step saved beside it (models/NAME.onnx, models/NAME.ref.h5).

The reference file holds one batch and what PyTorch computes from it in FP32:
  input/NAME      the batch, under the ONNX input's name
  target          one-hot targets [batch, classes] (softmax cross-entropy, mean over the batch)
  output          the logits
  loss            [1]
  grad/NAME       the gradient of every parameter, under its ONNX initializer's name and layout
  updated/NAME    the parameter after one SGD step (no momentum, no weight decay)
  attributes: lr, opset, batch, torch (version)
`tatami check MODEL --reference REF` holds the host oracle to these, then the emulator to the oracle.

Needs Debian's python3-torch, python3-onnx and python3-h5py (use /usr/bin/python3). The tests never
run it: its outputs are committed.

Usage: scripts/export_zoo.py [--out models] [--only NAME...]
"""
import argparse
import math
import os

import h5py
import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn
from torch.nn import functional as F

BATCH = 16
LR = 0.1


class Mlp(nn.Module):
    def __init__(self, act, width=32, inputs=64, classes=10, norm=False, dropout=False):
        super().__init__()
        self.fc1 = nn.Linear(inputs, width)
        self.norm = nn.LayerNorm(width) if norm else nn.Identity()
        self.act = act
        self.drop = nn.Dropout(0.1) if dropout else nn.Identity()
        self.fc2 = nn.Linear(width, width)
        self.fc3 = nn.Linear(width, classes)

    def forward(self, x):
        x = self.drop(self.act(self.norm(self.fc1(x))))
        x = self.act(self.fc2(x))
        return self.fc3(x)


class FashionMlp(nn.Module):
    """The MLP people write for 28x28 images: Flatten, 784-128-64-10 with ReLU."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.net(x)


class GatedMlp(nn.Module):
    """An MLP with a gated linear unit, PReLU (a learned slope), Hardtanh and Mish."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 64)
        self.prelu = nn.PReLU()
        self.fc2 = nn.Linear(32, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.prelu(nn.functional.glu(self.fc1(x), dim=1))
        return self.fc3(nn.functional.mish(nn.functional.hardtanh(self.fc2(x))))


class Conv1dNet(nn.Module):
    """A 1D convolutional net over sequences of feature vectors: Conv1d, InstanceNorm1d,
    MaxPool1d, a strided and dilated Conv1d, mean over time."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 8, 3, padding=1)
        self.n1 = nn.InstanceNorm1d(8, affine=True)
        self.pool = nn.MaxPool1d(2)
        self.c2 = nn.Conv1d(8, 8, 3, stride=2, dilation=2, padding=2)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.n1(self.c1(x))))
        return self.fc(torch.relu(self.c2(x)).mean(dim=2))


class UpsampleNet(nn.Module):
    """A small encoder-decoder: a stride-2 convolution, GroupNorm, nearest upsampling back to the
    input size, a 1x1 convolution, global average pooling."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.norm = nn.GroupNorm(2, 8)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.mix = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.up(torch.relu(self.norm(self.down(x))))
        return self.fc(torch.relu(self.mix(x)).mean(dim=(2, 3)))


class AutoEncoder(nn.Module):
    """A convolutional autoencoder head: a stride-2 convolution, a stride-2 transposed convolution
    (output_padding 1) back to 12x12, zero padding, softmax over the channels, a classifier."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)
        self.pad = nn.ZeroPad2d((1, 0, 1, 0))
        self.fc = nn.Linear(3 * 13 * 13, 10)

    def forward(self, x):
        x = self.pad(self.up(torch.relu(self.down(x))))
        return self.fc(torch.flatten(torch.softmax(x, dim=1), 1))


class MaskedMlp(nn.Module):
    """Masks computed at run time (torch.where on a comparison), F.normalize (ReduceL2)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        h = self.fc1(x)
        h = torch.where(h > 0, h, 0.1 * h)
        return self.fc2(nn.functional.normalize(h, dim=1))


class LeNet5(nn.Module):
    """LeNet-5 on 28x28 images (padding 2 on the first convolution), average pooling, tanh."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.c2 = nn.Conv2d(6, 16, 5)
        self.pool = nn.AvgPool2d(2)
        self.f1 = nn.Linear(16 * 5 * 5, 120)
        self.f2 = nn.Linear(120, 84)
        self.f3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(torch.tanh(self.c1(x)))
        x = self.pool(torch.tanh(self.c2(x)))
        x = torch.flatten(x, 1)
        x = torch.tanh(self.f1(x))
        x = torch.tanh(self.f2(x))
        return self.f3(x)


class Encoder(nn.Module):
    """nn.TransformerEncoderLayer over token embeddings, mean-pooled, classified."""

    def __init__(self, batch_first=True, norm_first=False, d=32, heads=4, tokens=8, vocab=16, classes=4):
        super().__init__()
        self.batch_first = batch_first
        self.embed = nn.Linear(vocab, d)
        self.layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=64, dropout=0.0, batch_first=batch_first,
                                                norm_first=norm_first)
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        h = self.embed(x)
        if not self.batch_first:
            h = h.transpose(0, 1)
        h = self.layer(h)
        if not self.batch_first:
            h = h.transpose(0, 1)
        return self.head(h.mean(dim=1))


class Vgg(nn.Module):
    """A VGG-style stack: two 3x3 convolutions per stage, max pooling, on 1x16x16 images."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class Block(nn.Module):
    """A residual block: 3x3 convolutions with batch norm (training mode), a stride-2 1x1 shortcut."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(self.b2(self.c2(y)) + self.short(x))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.layer1 = Block(8, 8, 1)
        self.layer2 = Block(8, 16, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layer2(self.layer1(self.stem(x)))), 1))


class ActMlp(nn.Module):
    """PReLU, Hardtanh and Mish between dense layers."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(64, 48)
        self.prelu = nn.PReLU()
        self.b = nn.Linear(48, 32)
        self.c = nn.Linear(32, 10)

    def forward(self, x):
        return self.c(F.mish(self.b(F.hardtanh(self.prelu(self.a(x)), -0.5, 0.5))))


class OverlapCnn(nn.Module):
    """Overlapping max pooling (3x3, stride 2, padding 1), ELU, Dropout2d, AdaptiveAvgPool2d((1, 1)), torch.flatten."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ELU(), nn.MaxPool2d(3, stride=2, padding=1),
                                      nn.Dropout2d(0.1), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)))
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class MiniUnet(nn.Module):
    """A U-Net step: down by max pooling, up by ConvTranspose2d (stride 2), the skip joined by torch.cat."""

    def __init__(self):
        super().__init__()
        self.d = nn.Conv2d(1, 8, 3, padding=1)
        self.m = nn.Conv2d(8, 16, 3, padding=1)
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.o = nn.Conv2d(16, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 16 * 16, 10)

    def forward(self, x):
        a = F.relu(self.d(x))
        b = F.relu(self.m(F.max_pool2d(a, 2)))
        return self.fc(F.relu(self.o(torch.cat([a, self.up(b)], dim=1))).flatten(1))


class ManualAttention(nn.Module):
    """Attention written out: chunk, matmul with transpose(-2, -1), masked_fill from a causal buffer, softmax."""

    def __init__(self, t=8, d=16):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.fc = nn.Linear(d, 4)
        self.d = d
        self.register_buffer("mask", torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1))

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        w = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d)
        w = w.masked_fill(self.mask, float("-inf")).softmax(dim=-1)
        return self.fc(self.o(torch.matmul(w, v)).mean(dim=1))


class ResMlp(nn.Module):
    """A pre-norm residual MLP over a sequence, mean-pooled (opset 14)."""

    def __init__(self, d=16):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.up = nn.Linear(d, 32)
        self.down = nn.Linear(32, d)
        self.fc = nn.Linear(d, 4)

    def forward(self, x):
        x = x + self.down(F.gelu(self.up(self.norm(x))))
        return self.fc(x.mean(dim=1))


class InstNorm(nn.Module):
    """InstanceNorm2d (affine), LeakyReLU, F.avg_pool2d, an unpadded convolution."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 6, 3)
        self.n = nn.InstanceNorm2d(6, affine=True)
        self.fc = nn.Linear(6 * 7 * 7, 10)

    def forward(self, x):
        return self.fc(F.avg_pool2d(F.leaky_relu(self.n(self.c(x)), 0.2), 2).flatten(1))


class SeBlock(nn.Module):
    """A squeeze-and-excitation block: depthwise stride-2 and 1x1 convolutions, Hardswish, a Hardsigmoid gate."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.dw = nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4)
        self.pw = nn.Conv2d(4, 8, 1)
        self.se1 = nn.Conv2d(8, 2, 1)
        self.se2 = nn.Conv2d(2, 8, 1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = F.hardswish(self.pw(self.dw(F.hardswish(self.stem(x)))))
        gate = F.hardsigmoid(self.se2(F.relu(self.se1(F.adaptive_avg_pool2d(x, 1)))))
        return self.fc(F.adaptive_avg_pool2d(x * gate, 1).flatten(1))


class LogSoftmaxNet(nn.Module):
    """torch.clamp, F.normalize, torch.sqrt, a log_softmax output."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(64, 32)
        self.b = nn.Linear(32, 10)

    def forward(self, x):
        h = torch.clamp(self.a(x), min=-1.0, max=1.0)
        h = F.normalize(h, dim=1) * torch.sqrt((h * h).sum(dim=1, keepdim=True) + 1e-3)
        return F.log_softmax(self.b(h), dim=1)


class TinyVit(nn.Module):
    """A tiny ViT: patches by a strided Conv2d, a class token by expand and cat, learned positions,
    nn.TransformerEncoder (pre-norm, GELU) with a final LayerNorm."""

    def __init__(self, d=16):
        super().__init__()
        self.patch = nn.Conv2d(1, d, 4, stride=4)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.zeros(1, 17, d))
        layer = nn.TransformerEncoderLayer(d, 2, 32, dropout=0.0, batch_first=True, norm_first=True, activation="gelu")
        self.enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(d), enable_nested_tensor=False)
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        p = self.patch(x).flatten(2).transpose(1, 2)
        p = torch.cat([self.cls.expand(x.shape[0], -1, -1), p], dim=1) + self.pos
        return self.head(self.enc(p)[:, 0])


class Decoder(nn.Module):
    """nn.TransformerDecoderLayer with a causal tgt_mask and a projected memory."""

    def __init__(self, d=16):
        super().__init__()
        self.dec = nn.TransformerDecoderLayer(d, 2, 32, dropout=0.0, batch_first=True)
        self.mem = nn.Linear(d, d)
        self.fc = nn.Linear(d, 4)

    def forward(self, x):
        t = x.shape[1]
        mask = torch.triu(torch.full((t, t), float("-inf")), diagonal=1)
        return self.fc(self.dec(x, self.mem(x), tgt_mask=mask).mean(dim=1))


class ViewCnn(nn.Module):
    """A dilated convolution, AdaptiveMaxPool2d((2, 2)), x.view(x.size(0), -1)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 3, padding=2, dilation=2)
        self.c2 = nn.Conv2d(6, 8, 3, padding=1)
        self.pool = nn.AdaptiveMaxPool2d((2, 2))
        self.fc = nn.Linear(8 * 4, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.c2(F.relu(self.c1(x)))))
        return self.fc(x.view(x.size(0), -1))


class InterpNet(nn.Module):
    """ZeroPad2d, a stride-2 convolution, F.interpolate (bilinear, scale 2), LayerNorm over (C, H, W)."""

    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d((1, 1, 1, 1))
        self.c = nn.Conv2d(1, 4, 3, stride=2)
        self.norm = nn.LayerNorm([4, 16, 16])
        self.fc = nn.Linear(4 * 16 * 16, 10)

    def forward(self, x):
        y = F.interpolate(F.relu(self.c(self.pad(x))), scale_factor=2, mode="bilinear", align_corners=False)
        return self.fc(self.norm(y).flatten(1))


class SeqPool(nn.Module):
    """torch.split, max_pool1d and avg_pool1d, torch.chunk and cat, amax over time."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv1d(8, 12, 3, padding=1)
        self.fc = nn.Linear(12, 4)

    def forward(self, x):  # x: [B, 8, 16]
        a, b = torch.split(F.relu(self.c(x)), [8, 8], dim=2)
        h = F.max_pool1d(a, 2) + F.avg_pool1d(b, 2)
        h = torch.cat(torch.chunk(h, 2, dim=1), dim=2)  # [B, 6, 8]
        return self.fc(torch.cat([h, h], dim=1).amax(dim=2))


class Volume3d(nn.Module):
    """A small 3D CNN over a [depth, height, width] volume: Conv3d, BatchNorm3d, MaxPool3d,
    AdaptiveAvgPool3d."""

    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(), nn.MaxPool3d(2),
                               nn.Conv3d(4, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten())
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(self.f(x.unsqueeze(1)))


class EfficientBlock(nn.Module):
    """An EfficientNet-style inverted residual: a stride-2 stem, a 1x1 expansion, a depthwise 3x3,
    squeeze and excitation, a 1x1 projection, SiLU and BatchNorm throughout, a residual add and a
    global mean. Two of PyTorch's FP32 gradients here (the first batch norm's scale and bias) are
    about 1e-5 from the exact ones, so `tatami check` holds them to their estimated FP32 noise."""

    def __init__(self):
        super().__init__()
        self.expand = nn.Conv2d(4, 16, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.se1, self.se2 = nn.Conv2d(16, 4, 1), nn.Conv2d(4, 16, 1)
        self.proj = nn.Conv2d(16, 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4)
        self.stem = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        x = F.silu(self.stem(x))
        h = F.silu(self.bn1(self.expand(x)))
        h = F.silu(self.bn2(self.dw(h)))
        s = torch.sigmoid(self.se2(F.silu(self.se1(F.adaptive_avg_pool2d(h, 1)))))
        h = self.bn3(self.proj(h * s))
        return self.fc((x + h).mean((2, 3)))


class CifarResNet(nn.Module):
    """A CIFAR-style residual network on 3x32x32 images: the ResNet paper's CIFAR widths (16, 32, 64
    filters, a stride-2 stage change with a 1x1 projection shortcut), one block per stage."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.stages = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.stages(self.stem(x))), 1))


class MobileBlock(nn.Module):
    """A MobileNet-style block: pointwise expansion, depthwise 3x3 (groups; stride 2 on 28x28
    images, as MobileNets downsample), Hardswish, ReLU6."""

    def __init__(self, size=16, stride=1):
        super().__init__()
        self.expand = nn.Conv2d(1, 8, 1)
        self.depthwise = nn.Conv2d(8, 8, 3, stride=stride, padding=1, groups=8)
        self.project = nn.Conv2d(8, 8, 1)
        inner = (size - 1) // stride + 1
        pooled = -(-(inner + 2 - 3) // 2) + 1  # ceil_mode
        self.fc = nn.Linear(8 * pooled * pooled, 10)
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True)

    def forward(self, x):
        x = nn.functional.hardswish(self.expand(x))
        x = nn.functional.relu6(self.depthwise(x))
        x = self.pool(self.project(x))
        return self.fc(torch.flatten(x, 1))


class Attention(nn.Module):
    """nn.MultiheadAttention with a causal mask over a sequence, mean-pooled, classified."""

    def __init__(self, d=32, heads=4, tokens=8, vocab=16, classes=4):
        super().__init__()
        self.embed = nn.Linear(vocab, d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.register_buffer("mask", torch.triu(torch.full((tokens, tokens), float("-inf")), diagonal=1))
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        h = self.embed(x)
        a, _ = self.attn(h, h, h, attn_mask=self.mask, need_weights=False)
        return self.head((h + a).mean(dim=1))


class BatchNormMlp(nn.Module):
    """An MLP with BatchNorm1d after each hidden layer (trained on the batch's statistics)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32), nn.BatchNorm1d(32), nn.ReLU(),
                                 nn.Linear(32, 10))

    def forward(self, x):
        return self.net(x)


class PaddedAttention(nn.Module):
    """nn.MultiheadAttention with a key_padding_mask computed from the input at run time, and the
    sequence pooled by its maximum (amax)."""

    def __init__(self, d=16, classes=4):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, 2, batch_first=True)
        self.head = nn.Linear(d, classes)

    def forward(self, x):  # x [batch, seq, d]; a position whose first feature is high is padding
        pad = x[:, :, 0] > 0.9
        y, _ = self.attn(x, x, x, key_padding_mask=pad, need_weights=False)
        return self.head(y.amax(dim=1))


class LstmClassifier(nn.Module):
    """A sequence classifier: nn.LSTM over the sequence, the last step's output to the classes."""

    def __init__(self, d=16, hidden=16, classes=4):
        super().__init__()
        self.lstm = nn.LSTM(d, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.head(y[:, -1])


class GruClassifier(nn.Module):
    """Two bidirectional nn.GRU layers; the final hidden states of both directions classify."""

    def __init__(self, d=16, hidden=12, classes=4):
        super().__init__()
        self.gru = nn.GRU(d, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, x):
        _, h = self.gru(x)  # [layers x 2, batch, hidden]
        return self.head(torch.cat([h[-2], h[-1]], dim=1))


class BilinearNet(nn.Module):
    """Segmentation-style resizing and padding: bilinear upsampling (by a factor, and to a size with
    align_corners), reflected and replicated padding."""

    def __init__(self, classes=10):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 4, 3)
        self.c3 = nn.Conv2d(4, 2, 3)
        self.fc = nn.Linear(2 * 12 * 12, classes)

    def forward(self, x):  # [batch, 1, 8, 8]
        y = F.interpolate(torch.relu(self.c1(x)), scale_factor=2, mode="bilinear", align_corners=False)
        y = torch.relu(self.c2(F.pad(y, (1, 1, 1, 1), mode="reflect")))
        y = F.interpolate(y, size=(12, 12), mode="bilinear", align_corners=True)
        y = torch.relu(self.c3(F.pad(y, (1, 1, 1, 1), mode="replicate")))
        return self.fc(y.flatten(1))


class SequenceOps(nn.Module):
    """Sinusoidal positions made from the input's length, a cumulative sum, a standard deviation,
    LogSigmoid, Hardshrink, Softmin and a cosine similarity."""

    def __init__(self, d=16, classes=4):
        super().__init__()
        self.a = nn.Linear(d, d)
        self.b = nn.Linear(d, d)
        self.head = nn.Linear(d, classes)

    def forward(self, x):  # [batch, seq, d]
        pos = torch.arange(x.shape[1]).float().unsqueeze(1)
        pe = torch.sin(pos / 10.0 * torch.arange(x.shape[2]).float()) + torch.cos(pos)
        h = torch.cumsum(self.a(x + pe), dim=1) / 4.0
        h = F.logsigmoid(h) + F.hardshrink(h, 0.3)
        g = F.softmin(self.b(h), dim=2) + torch.cosine_similarity(h, self.b(h), dim=2).unsqueeze(2)
        return self.head((g * h.std(dim=1, keepdim=True)).mean(dim=1))


class ShapeOps(nn.Module):
    """Tensor manipulation as people write it: PixelShuffle, torch.flip and a strided slice on
    run-time values, repeat (Tile), stack, masked_fill, torch.where, clamp."""

    def __init__(self, classes=10):
        super().__init__()
        self.c = nn.Conv2d(1, 8, 3, padding=1)
        self.ps = nn.PixelShuffle(2)
        self.a = nn.Linear(2 * 8 * 16, 16)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):  # [batch, 1, 8, 8]
        y = self.ps(torch.relu(self.c(x)))  # [batch, 2, 16, 16]
        y = torch.flip(y, dims=[3])[:, :, ::2]  # [batch, 2, 8, 16]
        h = self.a(y.flatten(1))
        h = torch.where(h > 0, h, 0.1 * h).masked_fill(h.abs() < 0.05, 0.0)
        s = torch.stack([h, h.repeat(1, 2)[:, 8:24]], dim=1).flatten(1)  # [batch, 32]
        return self.fc(torch.cat([s.clamp(min=-1.0), torch.flip(s, dims=[1])], dim=1))


class RnnClassifier(nn.Module):
    """A plain nn.RNN (tanh) in the default sequence-first layout; its output's mean classifies."""

    def __init__(self, d=16, hidden=12, classes=4):
        super().__init__()
        self.rnn = nn.RNN(d, hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):  # [batch, seq, d] -> [seq, batch, d]
        y, _ = self.rnn(x.transpose(0, 1))
        return self.head(y.mean(dim=0))


class EinsumNet(nn.Module):
    """Attention and projections written with torch.einsum, as research code often is: a batched
    product, a transposed one, an ellipsis, an outer product, a three-operand chain, a sum."""

    def __init__(self, d=16, classes=4):
        super().__init__()
        self.wq = nn.Parameter(torch.randn(d, d))
        self.wk = nn.Parameter(torch.randn(d, d))
        self.wv = nn.Parameter(torch.randn(2, d, d // 2))  # two heads
        self.gate = nn.Parameter(torch.randn(d))
        self.u = nn.Parameter(torch.randn(d, 8))
        self.v = nn.Parameter(torch.randn(8, classes))

    def forward(self, x):  # x [batch, seq, d]
        q = torch.einsum("bsd,de->bse", x, self.wq)
        k = torch.einsum("bsd,ed->bse", x, self.wk)  # transposed weight
        s = torch.softmax(torch.einsum("bqd,bkd->bqk", q, k) / 4.0, dim=-1)
        v = torch.einsum("bsd,hde->bhse", x, self.wv)
        a = torch.einsum("bqk,bhke->bhqe", s, v)
        h = torch.einsum("...hqe->...qhe", a).reshape(x.shape[0], x.shape[1], -1)
        h = h * torch.einsum("d,s->sd", self.gate, torch.ones(x.shape[1]))  # outer product
        pooled = torch.einsum("bsd->bd", torch.tanh(h))
        return torch.einsum("bd,dk,kc->bc", pooled, self.u, self.v)


class TinyGpt(nn.Module):
    """A tiny GPT: token and learned position embeddings, one pre-norm block of causal
    self-attention and MLP, a language-model head; logits for every position, flattened to
    [batch * tokens, vocab] for the cross-entropy."""

    def __init__(self, vocab=16, tokens=8, d=32, heads=4):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(tokens, d))
        self.n1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.n2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.nf = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)
        self.register_buffer("mask", torch.triu(torch.full((tokens, tokens), float("-inf")), diagonal=1))
        self.vocab = vocab

    def forward(self, x):
        h = self.tok(x) + self.pos
        a = self.n1(h)
        h = h + self.attn(a, a, a, attn_mask=self.mask, need_weights=False)[0]
        h = h + self.mlp(self.n2(h))
        return self.head(self.nf(h)).reshape(-1, self.vocab)


class TiedGpt(TinyGpt):
    """The tiny GPT with its language-model head tied to the token embedding, as nanoGPT writes it
    (`head.weight = tok.weight`, no head bias). Exported with constant folding (the default), the
    file holds the embedding and, for the head's MatMul, an initializer with its transpose."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(self.tok.embedding_dim, self.vocab, bias=False)
        self.head.weight = self.tok.weight


class LrnCnn(nn.Module):
    """An AlexNet-style network: a strided 5x5 convolution, ReLU, LocalResponseNorm (which PyTorch
    exports with an If on a shape and a 3D average pool), max pooling."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 5, stride=2, padding=2)
        self.lrn = nn.LocalResponseNorm(3)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        h = F.max_pool2d(self.lrn(F.relu(self.c1(x))), 2)
        return self.fc(torch.flatten(F.relu(self.c2(h)), 1))


class LogSumExpHead(nn.Module):
    """A Conv1d whose class scores are a log-sum-exp over time (ReduceLogSumExp) less half the
    maximum (AdaptiveMaxPool1d)."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv1d(4, 10, 3, padding=1)

    def forward(self, x):
        h = self.c(x)
        return torch.logsumexp(h, dim=2) - F.adaptive_max_pool1d(h, 1).squeeze(2) * 0.5


class BicubicCnn(nn.Module):
    """A convolution's maps upsampled twice by bicubic F.interpolate (Resize, mode cubic)."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 2, 3, padding=1)
        self.fc = nn.Linear(2 * 16 * 16, 10)

    def forward(self, x):
        return self.fc(F.interpolate(self.c(x), scale_factor=2, mode="bicubic", align_corners=False).flatten(1))


def zoo():
    """name -> (model, input shape without the batch, classes, opset)"""
    return {
        "mlp_relu": (Mlp(nn.ReLU()), (64,), 10, 17),
        "mlp_gelu": (Mlp(nn.GELU()), (64,), 10, 17),
        "mlp_gelu_tanh": (Mlp(nn.GELU(approximate="tanh")), (64,), 10, 17),
        "mlp_silu": (Mlp(nn.SiLU()), (64,), 10, 17),
        "mlp_tanh": (Mlp(nn.Tanh()), (64,), 10, 17),
        "mlp_sigmoid": (Mlp(nn.Sigmoid()), (64,), 10, 17),
        "mlp_relu6": (Mlp(nn.ReLU6()), (64,), 10, 17),
        "mlp_leaky_relu": (Mlp(nn.LeakyReLU(0.1)), (64,), 10, 17),
        "mlp_elu": (Mlp(nn.ELU()), (64,), 10, 17),
        "mlp_selu": (Mlp(nn.SELU()), (64,), 10, 17),
        "mlp_celu": (Mlp(nn.CELU(0.5)), (64,), 10, 17),
        "mlp_softplus": (Mlp(nn.Softplus()), (64,), 10, 17),
        "mlp_softsign": (Mlp(nn.Softsign()), (64,), 10, 17),
        "mlp_dropout": (Mlp(nn.ReLU(), dropout=True), (64,), 10, 17),
        "mlp_layernorm": (Mlp(nn.ReLU(), norm=True), (64,), 10, 17),
        "mlp_layernorm_op13": (Mlp(nn.ReLU(), norm=True), (64,), 10, 13),
        "mlp_fixed_batch": (Mlp(nn.ReLU()), (64,), 10, 17),  # exported without a dynamic batch axis
        "mlp_gated": (GatedMlp(), (64,), 10, 17),
        "mlp_fashion": (FashionMlp(), (1, 28, 28), 10, 17),
        "conv1d": (Conv1dNet(), (4, 16), 10, 17),
        "upsample_groupnorm": (UpsampleNet(), (1, 12, 12), 10, 17),
        "autoencoder": (AutoEncoder(), (1, 12, 12), 10, 17),
        "mlp_masked": (MaskedMlp(), (64,), 10, 17),
        "lenet5": (LeNet5(), (1, 28, 28), 10, 17),
        "encoder": (Encoder(), (8, 16), 4, 17),
        "encoder_op13": (Encoder(), (8, 16), 4, 13),
        "encoder_seq_first": (Encoder(batch_first=False), (8, 16), 4, 17),
        "encoder_pre_norm": (Encoder(norm_first=True), (8, 16), 4, 17),
        "vgg": (Vgg(), (1, 16, 16), 10, 17),
        "resnet": (ResNet(), (3, 16, 16), 10, 17),
        "resnet_cifar": (CifarResNet(), (3, 32, 32), 10, 17),
        "mobile_block": (MobileBlock(), (1, 16, 16), 10, 17),
        "mobile_fashion": (MobileBlock(28, stride=2), (1, 28, 28), 10, 17),
        "attention_causal": (Attention(), (8, 16), 4, 17),
        "tiny_gpt": (TinyGpt(), (8,), 16, 17),
        "einsum": (EinsumNet(), (8, 16), 4, 17),
        "mlp_batchnorm": (BatchNormMlp(), (64,), 10, 17),
        "attention_padding": (PaddedAttention(), (8, 16), 4, 17),
        "lstm": (LstmClassifier(), (8, 16), 4, 17),
        "gru_bidirectional": (GruClassifier(), (8, 16), 4, 17),
        "bilinear": (BilinearNet(), (1, 8, 8), 10, 17),
        "sequence_ops": (SequenceOps(), (8, 16), 4, 17),
        "shape_ops": (ShapeOps(), (1, 8, 8), 10, 17),
        "rnn": (RnnClassifier(), (8, 16), 4, 17),
        "act_mlp": (ActMlp(), (64,), 10, 17),
        "overlap_cnn": (OverlapCnn(), (1, 16, 16), 10, 17),
        "mini_unet": (MiniUnet(), (1, 16, 16), 10, 17),
        "manual_attention": (ManualAttention(), (8, 16), 4, 17),
        "res_mlp": (ResMlp(), (8, 16), 4, 14),
        "inst_norm": (InstNorm(), (1, 16, 16), 10, 17),
        "se_block": (SeBlock(), (1, 16, 16), 10, 17),
        "log_softmax": (LogSoftmaxNet(), (64,), 10, 17),
        "tiny_vit": (TinyVit(), (1, 16, 16), 10, 17),
        "decoder": (Decoder(), (8, 16), 4, 17),
        "view_cnn": (ViewCnn(), (1, 12, 12), 10, 17),
        "interp": (InterpNet(), (1, 16, 16), 10, 17),
        "seq_pool": (SeqPool(), (8, 16), 4, 17),
        # Older opsets, as many exports still ask for: Softmax over a flattened tail, Split and
        # Squeeze with attributes, HardSwish as HardSigmoid and Mul.
        "encoder_op11": (Encoder(), (8, 16), 4, 11),
        "mobile_block_op11": (MobileBlock(), (1, 16, 16), 10, 11),
        "resnet_op12": (ResNet(), (3, 16, 16), 10, 12),
        "volume3d": (Volume3d(), (4, 8, 8), 10, 17),
        "efficient_block": (EfficientBlock(), (1, 16, 16), 10, 17),
        "tiny_gpt_tied": (TiedGpt(), (8,), 16, 17),
        "lrn_cnn": (LrnCnn(), (1, 16, 16), 10, 17),
        "logsumexp_head": (LogSumExpHead(), (4, 16), 10, 17),
        "bicubic_cnn": (BicubicCnn(), (1, 8, 8), 10, 17),
    }


def recurrent_layouts(model):
    """ONNX's W, R and B of each nn.LSTM / nn.GRU layer, as functions of PyTorch's parameters: the
    gates reordered (LSTM i f g o -> i o f c, GRU r z n -> z r h), the directions stacked, the two
    biases joined. Gives (function, parameters) pairs; the function maps the parameters' values
    (or gradients) to the ONNX tensor."""
    layouts = []
    for mod in model.modules():
        if not isinstance(mod, (nn.LSTM, nn.GRU, nn.RNN)):
            continue
        H = mod.hidden_size
        order = [0, 3, 1, 2] if isinstance(mod, nn.LSTM) else [1, 0, 2] if isinstance(mod, nn.GRU) else [0]

        def reorder(t, order=order, H=H):
            return np.concatenate([t[k * H:(k + 1) * H] for k in order], axis=0)

        dirs = ["", "_reverse"] if mod.bidirectional else [""]
        for layer in range(mod.num_layers):
            for kind in ("weight_ih", "weight_hh"):
                ps = [getattr(mod, f"{kind}_l{layer}{d}") for d in dirs]
                layouts.append((lambda ts: np.stack([reorder(t) for t in ts]), ps))
            ps = [getattr(mod, f"{b}_l{layer}{d}") for d in dirs for b in ("bias_ih", "bias_hh")]
            layouts.append((lambda ts: np.stack([np.concatenate([reorder(ts[2 * i]), reorder(ts[2 * i + 1])])
                                                 for i in range(len(ts) // 2)]), ps))
    return layouts


def export(name, model, shape, classes, opset, out):
    torch.manual_seed(0)
    for p in model.parameters():  # deterministic initial weights
        with torch.no_grad():
            p.copy_(torch.randn_like(p) * (1.0 / max(1, p.shape[-1]) ** 0.5))
    # Dropout is the identity (eval), so the step is deterministic; batch norm trains on the
    # batch's statistics (train mode), as a training step does.
    model.eval()
    for mod in model.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            mod.train()
    gen = torch.Generator().manual_seed(1)
    tokens = isinstance(model, TinyGpt)
    if tokens:  # token ids; the target of each position is the next token of a repeating sequence
        x = torch.randint(0, classes, (BATCH,) + shape, generator=gen)
        labels = ((x + 1) % classes).reshape(-1)
    else:
        x = torch.rand((BATCH,) + shape, generator=gen) * 2 - 1
        labels = torch.arange(BATCH) % classes
    onnx_path = os.path.join(out, name + ".onnx")
    training = any(isinstance(mod, nn.modules.batchnorm._BatchNorm) for mod in model.modules())
    torch.onnx.export(model, (x,), onnx_path, input_names=["x"], output_names=["logits"], opset_version=opset,
                      dynamic_axes=None if name.endswith("fixed_batch") else {"x": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=not training,
                      training=torch.onnx.TrainingMode.PRESERVE)
    m = onnx.load(onnx_path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    params = {n: p for n, p in model.named_parameters()}
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, labels)
    loss.backward()
    # Each trainable initializer of the ONNX file, matched with the parameter it holds (by name, or
    # by value when the exporter renamed or transposed it).
    matched = {}
    for iname, value in inits.items():
        if iname in params and params[iname].detach().numpy().shape == value.shape:
            matched[iname] = (params[iname], False)
            continue
        for pname, p in params.items():
            pv = p.detach().numpy()
            if pv.shape == value.shape and np.array_equal(pv, value):
                matched[iname] = (p, False)
                break
            if pv.ndim == 2 and pv.T.shape == value.shape and np.array_equal(pv.T, value):
                matched[iname] = (p, True)
                break
    # The recurrent layers' W, R and B: PyTorch's parameters reordered (recurrent_layouts).
    rnn = {}
    for layout, ps in recurrent_layouts(model):
        value = layout([p.detach().numpy() for p in ps])
        for iname, v in inits.items():
            if iname not in matched and iname not in rnn and v.shape == value.shape and np.array_equal(v, value):
                rnn[iname] = (layout, ps)
                break
    with h5py.File(os.path.join(out, name + ".ref.h5"), "w") as f:
        def put(name, array):  # PyTorch's FP32 values, exactly, compressed
            f.create_dataset(name, data=np.asarray(array, dtype=np.float32), compression="gzip", compression_opts=9)

        put("input/x", x.numpy())
        put("target", nn.functional.one_hot(labels, classes).numpy())
        put("output", logits.detach().numpy())
        put("loss", np.array([loss.item()]))
        for iname, (p, transposed) in matched.items():
            g = p.grad.numpy()
            w = p.detach().numpy() - LR * g  # one SGD step, as torch.optim.SGD(lr) takes it
            put("grad/" + iname, g.T if transposed else g)
            put("updated/" + iname, w.T if transposed else w)
        for iname, (layout, ps) in rnn.items():
            g = layout([p.grad.numpy() for p in ps])
            put("grad/" + iname, g)
            put("updated/" + iname, layout([p.detach().numpy() for p in ps]) - LR * g)
        f.attrs["lr"] = str(LR)
        f.attrs["opset"] = str(opset)
        f.attrs["batch"] = str(BATCH)
        f.attrs["torch"] = str(torch.__version__)
    ops = sorted({n.op_type for n in m.graph.node})
    return ops, len(matched) + len(rnn)


class CancellingHead(nn.Module):
    """Not a model people train: logits that lose digits in FP32 by design, (h + 3e5) - 3e5, so
    that PyTorch's FP32 result is far (1e-2) from exact arithmetic. A test fixture for
    `tatami check`'s FP32-noise bound (tests/cli/fixtures)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        h = self.fc(x)
        return (h + 3e5) - 3e5


def fixtures():
    """The test fixtures exported like the zoo (--fixtures): name -> (model, shape, classes, opset)."""
    return {"fp32_cancellation": (CancellingHead(), (32,), 10, 17)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="models")
    p.add_argument("--only", nargs="*")
    p.add_argument("--fixtures", action="store_true", help="export the test fixtures to tests/cli/fixtures instead")
    a = p.parse_args()
    if a.fixtures:
        for name, (model, shape, classes, opset) in fixtures().items():
            export(name, model, shape, classes, opset, "tests/cli/fixtures")
            print(name)
        return
    os.makedirs(a.out, exist_ok=True)
    table = os.path.join(a.out, "ops.md")
    rows = {}  # with --only, the other models keep their rows
    if a.only and os.path.exists(table):
        for line in open(table).read().splitlines()[2:]:
            rows[line.split("`")[1]] = line
    for name, (model, shape, classes, opset) in zoo().items():
        if a.only and name not in a.only:
            continue
        ops, params = export(name, model, shape, classes, opset, a.out)
        rows[name] = f"| `{name}` | {opset} | {params} | {', '.join(ops)} |"
        print(name, opset, params, " ".join(ops))
    order = list(zoo())
    with open(table, "w") as f:
        f.write("| model | opset | parameters | ONNX ops |\n|---|---|---|---|\n" +
                "\n".join(rows[n] for n in order if n in rows) + "\n")


if __name__ == "__main__":
    main()
