"""PyTorch's own ONNX export of EfficientViT's feature extractor, for the featurizer benchmark to time this
project's exported graph against in the same run (benchmarks/EfficientViT.Featurizer.Benchmarks looks for the
files in artifacts/pytorch-export).

For each variant: the model (efficientvit.py) with seeded random weights and BatchNorm statistics (the timing does
not depend on them), BatchNorm fused into the convolutions as the official code does for inference, exported by
torch.onnx.export: opset 17, input `input` [batch, 3, SIZE, SIZE] (already normalized), output `features`
[batch, C] (the pooled last stage), the batch dimension dynamic; the names this project's exporter uses.
Usage: python3 benchmarks/pytorch/export_features.py [--variants M0,M4] [--size 224] [--out artifacts/pytorch-export]
"""
import argparse
import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from efficientvit import VARIANTS, EfficientViT, fuse_batchnorm  # noqa: E402


class Features(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.forward_features(x)


def randomize_batchnorm(model, generator):
    """Weights, biases and running statistics away from their initial values, so that fusing does real work."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                n = module.num_features
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.rand(n, generator=generator) * 0.2 - 0.1)
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="M0,M4")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--out", default="artifacts/pytorch-export")
    args = parser.parse_args()
    # The tracer warns that the window attention's choice (global or windowed) is fixed at export: it depends
    # on the map's size, which --size fixes; only the batch varies.
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    os.makedirs(args.out, exist_ok=True)
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            parser.error(f"unknown variant {variant}; expected one of {', '.join(sorted(VARIANTS))}")
        torch.manual_seed(0)
        model = EfficientViT(variant, img_size=args.size, num_classes=0)
        randomize_batchnorm(model, torch.Generator().manual_seed(1))
        model.eval()
        features = Features(fuse_batchnorm(model)).eval()
        path = os.path.join(args.out, f"efficientvit_{variant.lower()}_features.onnx")
        example = torch.randn(2, 3, args.size, args.size)
        with torch.no_grad():
            torch.onnx.export(features, (example,), path, opset_version=17, input_names=["input"],
                              output_names=["features"], dynamic_axes={"input": {0: "batch"}, "features": {0: "batch"}})
        print(f"{path}: {variant} features at {args.size}x{args.size}, PyTorch {torch.__version__}")


if __name__ == "__main__":
    main()
