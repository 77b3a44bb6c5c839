#!/usr/bin/python3
"""PyTorch reference for `tatami train`: the same model (the initial weights are read from the ONNX
file), optimizer (SGD), learning rate, batch size and epochs on Fashion-MNIST, in FP32 on the host.
Needs Debian's python3-torch and python3-onnx (use /usr/bin/python3).

Usage: scripts/pytorch_reference.py [--model examples/fashion_mnist/mlp.onnx] [--epochs 2]
       [--batch 64] [--lr 0.1] [--seed 1]
       scripts/pytorch_reference.py --model models/lenet5.onnx ...   (a model of the zoo: its class
       from scripts/export_zoo.py, its weights from the ONNX file's initializers, by name)
"""
import argparse
import gzip
import importlib.util
import os
import struct

import numpy as np
import onnx
import torch
from onnx import numpy_helper


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="examples/fashion_mnist/mlp.onnx")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.manual_seed(a.seed)

    weights = {t.name: torch.tensor(numpy_helper.to_array(t).copy()) for t in onnx.load(a.model).graph.initializer}
    name = os.path.splitext(os.path.basename(a.model))[0]
    if os.path.dirname(os.path.abspath(a.model)).endswith("models"):
        spec = importlib.util.spec_from_file_location("zoo", os.path.join(os.path.dirname(__file__), "export_zoo.py"))
        zoo = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(zoo)
        model = zoo.zoo()[name][0]
        model.eval()  # dropout off, as in the exported step
        with torch.no_grad():
            for pname, p in model.named_parameters():
                p.copy_(weights[pname])
    else:
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
        with torch.no_grad():
            model[1].weight.copy_(weights["fc1.weight"]), model[1].bias.copy_(weights["fc1.bias"])
            model[3].weight.copy_(weights["fc2.weight"]), model[3].bias.copy_(weights["fc2.bias"])

    def load(split):
        x = torch.tensor(read_idx(f"{a.data}/{split}-images-idx3-ubyte.gz"), dtype=torch.float32) / 255.0
        y = torch.tensor(read_idx(f"{a.data}/{split}-labels-idx1-ubyte.gz"), dtype=torch.long)
        return x.unsqueeze(1), y

    xtr, ytr = load("train")
    xte, yte = load("t10k")
    opt = torch.optim.SGD(model.parameters(), lr=a.lr)
    steps = len(xtr) // a.batch
    for epoch in range(a.epochs):
        order = torch.randperm(len(xtr))
        total = 0.0
        for s in range(steps):
            idx = order[s * a.batch:(s + 1) * a.batch]
            loss = torch.nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        print(f"epoch {epoch + 1}: mean loss {total / steps:.4f}, test accuracy {100 * acc:.2f}%")


if __name__ == "__main__":
    main()
