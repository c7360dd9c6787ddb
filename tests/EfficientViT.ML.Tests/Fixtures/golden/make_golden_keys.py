#!/usr/bin/env python3
"""Writes the expected state_dict keys and shapes of an EfficientViT variant, in the official order.

Written from the architecture description alone (no PyTorch, no project code), so the C# model is
checked against an independent listing. `python3 make_golden_keys.py M0` reproduces the official
implementation's key list (Fixtures/official-m0/keys_m0.txt) line for line.
"""
import sys

VARIANTS = {
    "M0": ([64, 128, 192], [1, 2, 3], [4, 4, 4], [5, 5, 5, 5]),
    "M1": ([128, 144, 192], [1, 2, 3], [2, 3, 3], [7, 5, 3, 3]),
    "M2": ([128, 192, 224], [1, 2, 3], [4, 3, 2], [7, 5, 3, 3]),
    "M3": ([128, 240, 320], [1, 2, 3], [4, 3, 4], [5, 5, 5, 5]),
    "M4": ([128, 256, 384], [1, 2, 3], [4, 4, 4], [7, 5, 3, 3]),
    "M5": ([192, 288, 384], [1, 3, 4], [3, 3, 4], [7, 5, 3, 3]),
}
KEY_DIM, WINDOW = 16, 7


def conv_bn(prefix, cin, cout, k=1, groups=1):
    yield f"{prefix}.c.weight", (cout, cin // groups, k, k)
    for name in ("weight", "bias", "running_mean", "running_var"):
        yield f"{prefix}.bn.{name}", (cout,)
    yield f"{prefix}.bn.num_batches_tracked", ()


def ffn(prefix, dim):
    yield from conv_bn(f"{prefix}.pw1", dim, 2 * dim)
    yield from conv_bn(f"{prefix}.pw2", 2 * dim, dim)


def attention(prefix, dim, heads, kernels, resolution):
    value_dim = int(dim / (KEY_DIM * heads) * KEY_DIM)
    window = min(WINDOW, resolution)
    points = window * window
    yield f"{prefix}.attention_biases", (heads, points)
    yield f"{prefix}.attention_bias_idxs", (points, points)
    for i in range(heads):
        yield from conv_bn(f"{prefix}.qkvs.{i}", dim // heads, 2 * KEY_DIM + value_dim)
    for i in range(heads):
        yield from conv_bn(f"{prefix}.dws.{i}", KEY_DIM, KEY_DIM, kernels[i], KEY_DIM)
    yield from conv_bn(f"{prefix}.proj.1", value_dim * heads, dim)


def block(prefix, dim, heads, kernels, resolution):
    yield from conv_bn(f"{prefix}.dw0.m", dim, dim, 3, dim)
    yield from ffn(f"{prefix}.ffn0.m", dim)
    yield from attention(f"{prefix}.mixer.m.attn", dim, heads, kernels, resolution)
    yield from conv_bn(f"{prefix}.dw1.m", dim, dim, 3, dim)
    yield from ffn(f"{prefix}.ffn1.m", dim)


def make_divisible(v, divisor=8):
    return max(divisor, int(v + divisor / 2) // divisor * divisor)


def model(variant, image=224, classes=1000):
    dims, depths, heads, kernels = VARIANTS[variant]
    c0 = dims[0]
    widths = [3, c0 // 8, c0 // 4, c0 // 2, c0]
    for i in range(4):
        yield from conv_bn(f"patch_embed.{2 * i}", widths[i], widths[i + 1], 3)
    resolution = image // 16
    for s in range(3):
        prefix = f"blocks{s + 1}"
        index = 0
        if s > 0:
            cin, cout = dims[s - 1], dims[s]
            yield from conv_bn(f"{prefix}.0.0.m", cin, cin, 3, cin)
            yield from ffn(f"{prefix}.0.1.m", cin)
            hidden = 4 * cin
            reduced = make_divisible(hidden * 0.25)
            yield from conv_bn(f"{prefix}.1.conv1", cin, hidden)
            yield from conv_bn(f"{prefix}.1.conv2", hidden, hidden, 3, hidden)
            yield f"{prefix}.1.se.fc1.weight", (reduced, hidden, 1, 1)
            yield f"{prefix}.1.se.fc1.bias", (reduced,)
            yield f"{prefix}.1.se.fc2.weight", (hidden, reduced, 1, 1)
            yield f"{prefix}.1.se.fc2.bias", (hidden,)
            yield from conv_bn(f"{prefix}.1.conv3", hidden, cout)
            resolution = (resolution - 1) // 2 + 1
            yield from conv_bn(f"{prefix}.2.0.m", cout, cout, 3, cout)
            yield from ffn(f"{prefix}.2.1.m", cout)
            index = 3
        for d in range(depths[s]):
            yield from block(f"{prefix}.{index + d}", dims[s], heads[s], kernels, resolution)
    yield "head.bn.weight", (dims[-1],)
    yield "head.bn.bias", (dims[-1],)
    yield "head.bn.running_mean", (dims[-1],)
    yield "head.bn.running_var", (dims[-1],)
    yield "head.bn.num_batches_tracked", ()
    yield "head.l.weight", (classes, dims[-1])
    yield "head.l.bias", (classes,)


if __name__ == "__main__":
    for key, shape in model(sys.argv[1]):
        print((key, shape))
