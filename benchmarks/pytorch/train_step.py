"""Training throughput of EfficientViT in PyTorch: the PyTorch side of benchmarks/train-vs-pytorch.sh.

The same work as this project's training benchmark (benchmarks/EfficientViT.Benchmarks -- --training): the model
in train mode (efficientvit.py, the official architecture), one fixed batch of random SIZE x SIZE images, 10
classes, cross-entropy, an AdamW step (lr 1e-3, weight decay 0.025); images/s over --time seconds after --warmup
seconds, for each thread count in turn. The project also clips gradients, as its recipe does; this side does
not, which only favours PyTorch. --channels-last stores the weights and the input channels-last, as this
project's trainer does (the official code does not). --steps measures that many steps after --warmup-steps instead
(the same steps on both sides, as the memory comparison of benchmarks/EfficientViT.Benchmarks --training-memory needs:
the heap's peak grows over the first steps). The last line is the process's peak resident memory (ru_maxrss, the
figure /usr/bin/time -f %M reports).
Usage: python3 benchmarks/pytorch/train_step.py [--variant M0] [--size 64] [--batch 128] [--threads 1,2] [--steps N]
"""
import argparse
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from efficientvit import VARIANTS, EfficientViT  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="M0", choices=sorted(VARIANTS))
    parser.add_argument("--size", type=int, default=64, help="image side, a multiple of 16")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", default="1,2", help="thread counts, measured in turn")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of steps before each measurement")
    parser.add_argument("--time", type=float, default=20.0, help="seconds measured at each thread count")
    parser.add_argument("--warmup-steps", type=int, default=0, help="steps before each measurement, after --warmup seconds")
    parser.add_argument("--steps", type=int, default=0, help="measure this many steps instead of --time seconds")
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    if args.size % 16:
        parser.error(f"--size must be a multiple of 16; found {args.size}")

    torch.manual_seed(0)
    model = EfficientViT(args.variant, img_size=args.size, num_classes=10).train()
    x = torch.randn(args.batch, 3, args.size, args.size)
    y = torch.randint(0, 10, (args.batch,))
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.025)
    loss_function = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_function(model(x), y).backward()
        optimizer.step()

    layout = "channels-last" if args.channels_last else "contiguous"
    print(f"torch {torch.__version__}, {args.variant} {args.size}x{args.size} batch {args.batch}, {layout}, AdamW")
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        end = time.perf_counter() + args.warmup
        while time.perf_counter() < end:
            step()
        for _ in range(args.warmup_steps):
            step()
        steps = 0
        start = time.perf_counter()
        while steps < args.steps if args.steps > 0 else time.perf_counter() - start < args.time:
            step()
            steps += 1
        print(f"threads {threads}: {steps * args.batch / (time.perf_counter() - start):.1f} img/s ({steps} steps)")
    print(f"peak resident memory KiB: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")


if __name__ == "__main__":
    main()
