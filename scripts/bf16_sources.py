#!/usr/bin/python3
"""Where the BF16 error of a zoo CNN's gradients comes from: one training step with the emulator's
mixed-precision numerics modelled in PyTorch (every convolution's operands rounded to BF16 and
accumulated in FP32: the forward, the input gradient and the weight gradient), against the same
step in FP32, then with one of the three kinds kept in FP32. The relative 2-norm error of the
worst parameter gradient, and of the first convolution's weight and bias. Dense layers stay FP32
here (their error is far smaller in these models).
Needs Debian's python3-torch, python3-onnx and python3-h5py (use /usr/bin/python3).

Usage: scripts/bf16_sources.py MODEL [MODEL ...]     (convolutional models of the zoo: vgg mini_unet)
"""
import importlib.util
import os
import sys

import h5py
import onnx
import torch
from onnx import numpy_helper
from torch import nn
from torch.nn import functional as F

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("zoo", os.path.join(here, "export_zoo.py"))
zoo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(zoo)

BF16 = {"forward": True, "input gradient": True, "weight gradient": True}


def r(t, kind):
    return t.to(torch.bfloat16).to(torch.float32) if BF16[kind] else t


class Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding, groups):
        ctx.save_for_backward(x, w)
        ctx.geometry = (stride, padding, groups)
        return F.conv2d(r(x, "forward"), r(w, "forward"), b, stride, padding, 1, groups)

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        stride, padding, groups = ctx.geometry
        dx = torch.nn.grad.conv2d_input(x.shape, r(w, "input gradient"), r(dy, "input gradient"), stride, padding, 1, groups)
        dw = torch.nn.grad.conv2d_weight(r(x, "weight gradient"), w.shape, r(dy, "weight gradient"), stride, padding, 1, groups)
        return dx, dw, dy.sum((0, 2, 3)), None, None, None


def gradients(name):
    model = zoo.zoo()[name][0]
    model.eval()
    for mod in model.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            mod.train()
        if isinstance(mod, nn.Conv2d):
            mod.forward = (lambda m: lambda x: Conv.apply(x, m.weight, m.bias, m.stride, m.padding, m.groups))(mod)
    root = os.path.join(here, "..", "models", name)
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(root + ".onnx").graph.initializer}
    with torch.no_grad():
        for pname, p in model.named_parameters():
            p.copy_(torch.tensor(weights[pname].copy()))
    ref = h5py.File(root + ".ref.h5", "r")
    x = torch.tensor(ref["input/x"][()])
    labels = torch.tensor(ref["target"][()]).argmax(1)
    F.cross_entropy(model(x), labels).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}


def main():
    for name in sys.argv[1:]:
        for k in BF16:
            BF16[k] = False
        exact = gradients(name)
        first = [n for n in exact][:2]
        for kept in [None] + list(BF16):
            for k in BF16:
                BF16[k] = k != kept
            g = gradients(name)
            err = {n: ((g[n] - exact[n]).norm() / exact[n].norm()).item() for n in exact}
            what = "all in BF16" if kept is None else kept + " in FP32"
            print(f"{name}, {what}: worst gradient {max(err.values()):.2e}; " + ", ".join(f"{n} {err[n]:.2e}" for n in first))


if __name__ == "__main__":
    main()
