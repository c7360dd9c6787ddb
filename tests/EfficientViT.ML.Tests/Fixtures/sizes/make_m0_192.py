#!/usr/bin/env python3
"""Writes efficientvit_m0_192.pth: an official-format EfficientViT-M0 checkpoint made for 192x192 input.

The official code builds each attention layer for a window of min(7, stage resolution), so at 192 the
stages' bias tables are 7x7, 6x6 and 3x3 (at 224: 7x7, 7x7 and 4x4). Keys and every other shape come from
../official-m0/keys_m0.txt. Values: zeros, except the bias tables (seeded uniform in [-1, 1]) and the
relative-position index buffers (the official numbering), so the file is a few kilobytes once deflated.
It exists to test input-size detection and resampling; its features mean nothing.

Standard library only (no torch): torch.save's zip layout (archive/data.pkl, archive/version,
archive/data/<key>) with protocol-2 pickle opcodes written by hand.
Run: python3 make_m0_192.py  (deterministic; rewrites the file beside this script).
"""
import ast
import os
import random
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
WINDOW_192 = {"blocks1": 7, "blocks2": 6, "blocks3": 3}


def integer(value):
    if 0 <= value < 256:
        return b"K" + bytes([value])
    return b"J" + struct.pack("<i", value)


def text(value):
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def int_tuple(values):
    return b"(" + b"".join(integer(v) for v in values) + b"t"


def tensor_pickle(key, shape, storage):
    numel = 1
    for n in shape:
        numel *= n
    stride, step = [], 1
    for n in reversed(shape):
        stride.insert(0, step)
        step *= n
    pid = b"(" + text("storage") + b"ctorch\n" + storage.encode() + b"\n" + text(key) + text("cpu") + integer(numel) + b"tQ"
    hooks = b"ccollections\nOrderedDict\n)R"
    return b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + integer(0) + int_tuple(shape) + int_tuple(stride) + b"\x89" + hooks + b"tR"


def offset_index(r):
    """The official relative-position numbering: offsets (|dy|, |dx|) in order of first appearance."""
    points = [(y, x) for y in range(r) for x in range(r)]
    offsets, index = {}, []
    for p1 in points:
        for p2 in points:
            offset = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
            index.append(offsets.setdefault(offset, len(offsets)))
    return index


def main():
    random.seed(192)
    entries, storages = [], {}
    with open(os.path.join(HERE, "..", "official-m0", "keys_m0.txt")) as keys:
        for number, line in enumerate(l for l in keys if l.strip()):
            name, shape = ast.literal_eval(line.strip())
            shape = list(shape)
            r = WINDOW_192.get(name.split(".")[0], 0)
            key = str(number)
            if name.endswith("attention_biases"):
                shape = [shape[0], r * r]
                data = struct.pack(f"<{shape[0] * r * r}f", *(random.uniform(-1, 1) for _ in range(shape[0] * r * r)))
                storage = "FloatStorage"
            elif name.endswith("attention_bias_idxs"):
                shape = [r * r, r * r]
                data = struct.pack(f"<{r ** 4}q", *offset_index(r))
                storage = "LongStorage"
            elif name.endswith("num_batches_tracked"):
                data, storage = struct.pack("<q", 0), "LongStorage"
            else:
                numel = 1
                for n in shape:
                    numel *= n
                # Variances of one keep BatchNorm well defined.
                value = 1.0 if name.endswith("running_var") else 0.0
                data, storage = struct.pack(f"<{numel}f", *([value] * numel)), "FloatStorage"
            entries.append(text(name) + tensor_pickle(key, shape, storage))
            storages[key] = data
    pickle = b"\x80\x02}" + text("model") + b"}(" + b"".join(entries) + b"us."
    with zipfile.ZipFile(os.path.join(HERE, "efficientvit_m0_192.pth"), "w") as z:
        for entry, data in [("archive/data.pkl", pickle), ("archive/version", b"3\n")] + [(f"archive/data/{k}", v) for k, v in storages.items()]:
            info = zipfile.ZipInfo(entry, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data, compresslevel=9)


if __name__ == "__main__":
    main()
