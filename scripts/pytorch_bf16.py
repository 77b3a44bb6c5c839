#!/usr/bin/python3
"""How far PyTorch's own mixed precision (torch.autocast, BF16 on the CPU) is from FP64 on one
training step of a zoo model: the relative 2-norm error of every parameter after one SGD step,
from the weights in the ONNX file and the batch in its .ref.h5. A yardstick for `tatami check`'s
mixed-precision figure (BF16 matmul operands, FP32 accumulation), which is held to the FP64 oracle.
Needs Debian's python3-torch, python3-onnx and python3-h5py (use /usr/bin/python3).

Usage: scripts/pytorch_bf16.py MODEL [MODEL ...]     (names of the zoo, e.g. vgg lenet5)
"""
import importlib.util
import os
import sys

import h5py
import numpy as np
import onnx
import torch
from onnx import numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("zoo", os.path.join(here, "export_zoo.py"))
zoo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(zoo)


def step(name, dtype, autocast):
    model = zoo.zoo()[name][0]
    model.eval()
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.train()
    root = os.path.join(here, "..", "models", name)
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(root + ".onnx").graph.initializer}
    with torch.no_grad():
        for pname, p in model.named_parameters():
            p.copy_(torch.tensor(weights[pname].copy()))
    model = model.to(dtype)
    ref = h5py.File(root + ".ref.h5", "r")
    x = torch.tensor(ref["input/x"][()])
    x = x.long() if isinstance(model, zoo.TinyGpt) else x.to(dtype)
    labels = torch.tensor(ref["target"][()]).argmax(1)
    lr = float(ref.attrs["lr"])
    if autocast:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
    else:
        loss = torch.nn.functional.cross_entropy(model(x), labels)
    loss.backward()
    return {n: (p.detach() - lr * p.grad).double().numpy() for n, p in model.named_parameters()}


def main():
    for name in sys.argv[1:]:
        exact, mixed = step(name, torch.float64, False), step(name, torch.float32, True)
        errors = {n: np.linalg.norm(mixed[n] - exact[n]) / max(np.linalg.norm(exact[n]), 1e-300) for n in exact}
        worst = max(errors, key=errors.get)
        print(f"{name}: PyTorch BF16 autocast against FP64, updated weights: worst {errors[worst]:.2e} ({worst})")


if __name__ == "__main__":
    main()
