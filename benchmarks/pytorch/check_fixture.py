"""Checks efficientvit.py against the official implementation's outputs kept in the repository's test fixture
(tests/EfficientViT.ML.Tests/Fixtures/official-m0: the official M0 with perturbed weights and BatchNorm
statistics, its input and outputs, made with the official code on PyTorch 1.13.1): the checkpoint loads with
strict=True, and the stage outputs, features and logits, unfused and after fusing BatchNorm, agree within the
fixture README's tolerances. Exits 1 if any does not. Run from the repository root (in the PyTorch root:
benchmarks/pytorch/run.sh python3 benchmarks/pytorch/check_fixture.py).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from efficientvit import EfficientViT, fuse_batchnorm  # noqa: E402

FIXTURE = "tests/EfficientViT.ML.Tests/Fixtures/official-m0"


def read(name, shape):
    return torch.from_numpy(np.fromfile(os.path.join(FIXTURE, name), dtype="<f4").reshape(shape))


def main():
    torch.set_num_threads(1)
    model = EfficientViT("M0", img_size=224, num_classes=1000)
    checkpoint = torch.load(os.path.join(FIXTURE, "efficientvit_m0.pth"), map_location="cpu")
    model.load_state_dict(checkpoint["model"], strict=True)
    model.eval()
    x = read("input_2x3x224x224.f32", (2, 3, 224, 224))
    results = []
    with torch.no_grad():
        stage = model.patch_embed(x)
        results.append(("patch_embed", stage, read("m0_stage0_patch_embed.f32", (2, 64, 14, 14)), 2e-4))
        for name, blocks, shape in (("blocks1", model.blocks1, (2, 64, 14, 14)),
                                    ("blocks2", model.blocks2, (2, 128, 7, 7)),
                                    ("blocks3", model.blocks3, (2, 192, 4, 4))):
            stage = blocks(stage)
            results.append((name, stage, read(f"m0_stage{name[-1]}_{name}.f32", shape), 2e-4))
        results.append(("features", model.forward_features(x), read("m0_features.f32", (2, 192)), 1e-4))
        results.append(("logits", model(x), read("m0_logits.f32", (2, 1000)), 1e-4))
        fuse_batchnorm(model)
        results.append(("fused features", model.forward_features(x), read("m0_fused_features.f32", (2, 192)), 1e-4))
        results.append(("fused logits", model(x), read("m0_fused_logits.f32", (2, 1000)), 1e-4))
    failed = False
    print(f"PyTorch {torch.__version__}: efficientvit.py against the official outputs of {FIXTURE}")
    for name, ours, official, tolerance in results:
        difference = (ours - official).abs().max().item()
        ok = difference <= tolerance
        failed |= not ok
        print(f"  {name:15} max |difference| {difference:.2e}  (tolerance {tolerance:.0e})  {'ok' if ok else 'FAILED'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
