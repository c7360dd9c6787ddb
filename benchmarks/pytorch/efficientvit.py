"""EfficientViT (Liu et al., CVPR 2023, "Memory Efficient Vision Transformer with Cascaded Group Attention") in
plain PyTorch, for the benchmarks that put this project next to PyTorch on one machine.

It follows the architecture of the official code (microsoft/Cream, EfficientViT/classification) module by module,
with the official module and parameter names, so that an official checkpoint loads into it with strict=True and
the state_dict keys read like this project's. check_fixture.py shows that it gives the official outputs for the
repository's fixture (tests/EfficientViT.ML.Tests/Fixtures/official-m0). Needs PyTorch alone.
"""
import itertools

import torch
from torch import nn
from torch.nn import functional as F

# embed dims, depths, heads and the depthwise query kernels of each head, per variant (the paper's table 1)
VARIANTS = {
    "M0": dict(embed_dim=(64, 128, 192), depth=(1, 2, 3), num_heads=(4, 4, 4), kernels=(5, 5, 5, 5)),
    "M1": dict(embed_dim=(128, 144, 192), depth=(1, 2, 3), num_heads=(2, 3, 3), kernels=(7, 5, 3, 3)),
    "M2": dict(embed_dim=(128, 192, 224), depth=(1, 2, 3), num_heads=(4, 3, 2), kernels=(7, 5, 3, 3)),
    "M3": dict(embed_dim=(128, 240, 320), depth=(1, 2, 3), num_heads=(4, 3, 4), kernels=(5, 5, 5, 5)),
    "M4": dict(embed_dim=(128, 256, 384), depth=(1, 2, 3), num_heads=(4, 4, 4), kernels=(7, 5, 3, 3)),
    "M5": dict(embed_dim=(192, 288, 384), depth=(1, 3, 4), num_heads=(3, 3, 4), kernels=(7, 5, 3, 3)),
}
KEY_DIM = 16
WINDOW = 7
PATCH = 16


class Conv2dBN(nn.Sequential):
    """A convolution without bias (child `c`) and a BatchNorm (child `bn`); official name Conv2d_BN."""

    def __init__(self, in_channels, out_channels, kernel=1, stride=1, padding=0, groups=1, bn_weight_init=1.0):
        super().__init__()
        self.add_module("c", nn.Conv2d(in_channels, out_channels, kernel, stride, padding, groups=groups, bias=False))
        self.add_module("bn", nn.BatchNorm2d(out_channels))
        nn.init.constant_(self.bn.weight, bn_weight_init)
        nn.init.zeros_(self.bn.bias)

    @torch.no_grad()
    def fuse(self):
        scale = self.bn.weight / (self.bn.running_var + self.bn.eps).sqrt()
        conv = nn.Conv2d(self.c.in_channels, self.c.out_channels, self.c.kernel_size, self.c.stride,
                         self.c.padding, groups=self.c.groups, bias=True)
        conv.weight.copy_(self.c.weight * scale[:, None, None, None])
        conv.bias.copy_(self.bn.bias - self.bn.running_mean * scale)
        return conv


class BNLinear(nn.Sequential):
    """BatchNorm1d (child `bn`) then Linear (child `l`): the classifier head; official name BN_Linear."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.add_module("bn", nn.BatchNorm1d(in_features))
        self.add_module("l", nn.Linear(in_features, out_features))
        nn.init.trunc_normal_(self.l.weight, std=0.02)
        nn.init.zeros_(self.l.bias)

    @torch.no_grad()
    def fuse(self):
        scale = self.bn.weight / (self.bn.running_var + self.bn.eps).sqrt()
        shift = self.bn.bias - self.bn.running_mean * scale
        linear = nn.Linear(self.l.in_features, self.l.out_features)
        linear.weight.copy_(self.l.weight * scale[None, :])
        linear.bias.copy_(self.l.weight @ shift + self.l.bias)
        return linear


class Residual(nn.Module):
    """x + m(x); in training, with drop-path rate p, the branch of each sample is kept with probability 1 - p."""

    def __init__(self, m, drop=0.0):
        super().__init__()
        self.m = m
        self.drop = drop

    def forward(self, x):
        if self.training and self.drop > 0:
            keep = torch.rand(x.size(0), 1, 1, 1, device=x.device).ge_(self.drop).div(1 - self.drop)
            return x + self.m(x) * keep
        return x + self.m(x)


class FFN(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.pw1 = Conv2dBN(dim, hidden)
        self.act = nn.ReLU()
        self.pw2 = Conv2dBN(hidden, dim, bn_weight_init=0.0)

    def forward(self, x):
        return self.pw2(self.act(self.pw1(x)))


class SqueezeExcite(nn.Module):
    """Channel gate of the patch merging: x * sigmoid(fc2(relu(fc1(mean over the map)))), with fc1 reducing to a
    quarter of the channels rounded to a multiple of 8 (timm's SqueezeExcite, which the official code imports)."""

    def __init__(self, channels, ratio=0.25):
        super().__init__()
        reduced = max(8, int(channels * ratio + 4) // 8 * 8)
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(reduced, channels, 1)

    def forward(self, x):
        gate = self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * gate.sigmoid()


class PatchMerging(nn.Module):
    def __init__(self, dim, out_dim):
        super().__init__()
        hidden = 4 * dim
        self.conv1 = Conv2dBN(dim, hidden)
        self.act = nn.ReLU()
        self.conv2 = Conv2dBN(hidden, hidden, 3, 2, 1, groups=hidden)
        self.se = SqueezeExcite(hidden)
        self.conv3 = Conv2dBN(hidden, out_dim)

    def forward(self, x):
        return self.conv3(self.se(self.act(self.conv2(self.act(self.conv1(x))))))


def relative_offsets(resolution):
    """The (r*r, r*r) table of offset numbers: the pair of grid points (p1, p2) gets the number of the offset
    (|dy|, |dx|), numbered in order of first appearance with p1, then p2, in row-major order."""
    points = list(itertools.product(range(resolution), range(resolution)))
    numbers = {}
    table = []
    for y1, x1 in points:
        for y2, x2 in points:
            offset = (abs(y1 - y2), abs(x1 - x2))
            table.append(numbers.setdefault(offset, len(numbers)))
    return torch.tensor(table, dtype=torch.long).view(len(points), len(points)), len(numbers)


class CascadedGroupAttention(nn.Module):
    """Each head attends over its own channel chunk plus the previous head's output (the cascade); the query
    goes through a depthwise convolution first; a learned bias per relative offset joins the logits."""

    def __init__(self, dim, key_dim, num_heads, attn_ratio, resolution, kernels):
        super().__init__()
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = int(attn_ratio * key_dim)
        self.scale = key_dim ** -0.5
        chunk = dim // num_heads
        self.qkvs = nn.ModuleList(Conv2dBN(chunk, 2 * key_dim + self.value_dim) for _ in range(num_heads))
        self.dws = nn.ModuleList(
            Conv2dBN(key_dim, key_dim, kernels[i], 1, kernels[i] // 2, groups=key_dim) for i in range(num_heads))
        self.proj = nn.Sequential(nn.ReLU(), Conv2dBN(self.value_dim * num_heads, dim, bn_weight_init=0.0))
        table, offsets = relative_offsets(resolution)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, offsets))
        self.register_buffer("attention_bias_idxs", table)

    def forward(self, x):
        batch, _, height, width = x.shape
        biases = self.attention_biases[:, self.attention_bias_idxs]
        chunks = x.chunk(self.num_heads, dim=1)
        outputs = []
        head = chunks[0]
        for i in range(self.num_heads):
            if i > 0:
                head = head + chunks[i]
            q, k, v = self.qkvs[i](head).split([self.key_dim, self.key_dim, self.value_dim], dim=1)
            q = self.dws[i](q)
            q, k, v = q.flatten(2), k.flatten(2), v.flatten(2)
            attention = ((q.transpose(-2, -1) @ k) * self.scale + biases[i]).softmax(dim=-1)
            head = (v @ attention.transpose(-2, -1)).view(batch, self.value_dim, height, width)
            outputs.append(head)
        return self.proj(torch.cat(outputs, dim=1))


class LocalWindowAttention(nn.Module):
    """Cascaded group attention within windows of WINDOW x WINDOW: global when the map fits in one window;
    otherwise the map is padded at the bottom and right to whole windows, attended window by window, and cropped."""

    def __init__(self, dim, key_dim, num_heads, attn_ratio, resolution, window, kernels):
        super().__init__()
        self.window = min(window, resolution)
        self.attn = CascadedGroupAttention(dim, key_dim, num_heads, attn_ratio, self.window, kernels)

    def forward(self, x):
        batch, channels, height, width = x.shape
        w = self.window
        if height <= w and width <= w:
            return self.attn(x)
        pad_bottom, pad_right = (w - height % w) % w, (w - width % w) % w
        x = F.pad(x.permute(0, 2, 3, 1), (0, 0, 0, pad_right, 0, pad_bottom))
        rows, cols = (height + pad_bottom) // w, (width + pad_right) // w
        windows = (x.view(batch, rows, w, cols, w, channels).transpose(2, 3)
                   .reshape(batch * rows * cols, w, w, channels).permute(0, 3, 1, 2))
        windows = self.attn(windows)
        x = (windows.permute(0, 2, 3, 1).view(batch, rows, cols, w, w, channels).transpose(2, 3)
             .reshape(batch, rows * w, cols * w, channels))
        return x[:, :height, :width].permute(0, 3, 1, 2)


def depthwise_residual(dim, bn_weight_init=1.0):
    return Residual(Conv2dBN(dim, dim, 3, 1, 1, groups=dim, bn_weight_init=bn_weight_init))


class EfficientViTBlock(nn.Module):
    """The sandwich: depthwise conv, FFN, attention, depthwise conv, FFN, each a residual."""

    def __init__(self, dim, key_dim, num_heads, attn_ratio, resolution, window, kernels):
        super().__init__()
        self.dw0 = depthwise_residual(dim, bn_weight_init=0.0)
        self.ffn0 = Residual(FFN(dim, 2 * dim))
        self.mixer = Residual(LocalWindowAttention(dim, key_dim, num_heads, attn_ratio, resolution, window, kernels))
        self.dw1 = depthwise_residual(dim, bn_weight_init=0.0)
        self.ffn1 = Residual(FFN(dim, 2 * dim))

    def forward(self, x):
        return self.ffn1(self.dw1(self.mixer(self.ffn0(self.dw0(x)))))


class EfficientViT(nn.Module):
    def __init__(self, variant="M0", img_size=224, num_classes=1000, distillation=False):
        super().__init__()
        config = VARIANTS[variant]
        dims, depths, heads, kernels = config["embed_dim"], config["depth"], config["num_heads"], config["kernels"]
        first = dims[0]
        self.patch_embed = nn.Sequential(
            Conv2dBN(3, first // 8, 3, 2, 1), nn.ReLU(),
            Conv2dBN(first // 8, first // 4, 3, 2, 1), nn.ReLU(),
            Conv2dBN(first // 4, first // 2, 3, 2, 1), nn.ReLU(),
            Conv2dBN(first // 2, first, 3, 2, 1))
        resolution = img_size // PATCH
        stages = [[], [], []]
        for i, (dim, depth, num_heads) in enumerate(zip(dims, depths, heads)):
            attn_ratio = dim / (KEY_DIM * num_heads)
            for _ in range(depth):
                stages[i].append(EfficientViTBlock(dim, KEY_DIM, num_heads, attn_ratio, resolution, WINDOW, kernels))
            if i + 1 < len(dims):
                # The next stage starts by halving the map: residual dw conv + FFN, patch merging, and again.
                stages[i + 1].append(nn.Sequential(depthwise_residual(dim), Residual(FFN(dim, 2 * dim))))
                stages[i + 1].append(PatchMerging(dim, dims[i + 1]))
                stages[i + 1].append(nn.Sequential(depthwise_residual(dims[i + 1]),
                                                   Residual(FFN(dims[i + 1], 2 * dims[i + 1]))))
                resolution = (resolution - 1) // 2 + 1
        self.blocks1, self.blocks2, self.blocks3 = (nn.Sequential(*stage) for stage in stages)
        self.num_features = dims[-1]
        self.head = BNLinear(dims[-1], num_classes) if num_classes > 0 else nn.Identity()
        self.distillation = distillation
        if distillation:
            self.head_dist = BNLinear(dims[-1], num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x):
        """The pooled last-stage map: the feature vector of a featurizer."""
        x = self.blocks3(self.blocks2(self.blocks1(self.patch_embed(x))))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x):
        features = self.forward_features(x)
        if not self.distillation:
            return self.head(features)
        logits, distilled = self.head(features), self.head_dist(features)
        return (logits, distilled) if self.training else (logits + distilled) / 2


def fuse_batchnorm(module):
    """For inference: every Conv2dBN and BNLinear becomes the one layer it computes, in place."""
    for name, child in module.named_children():
        if hasattr(child, "fuse"):
            setattr(module, name, child.fuse())
        else:
            fuse_batchnorm(child)
    return module
