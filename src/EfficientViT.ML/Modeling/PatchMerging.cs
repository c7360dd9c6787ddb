using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// Down-sampling between stages (official <c>PatchMerging</c>): an inverted residual without the skip —
/// 1×1 expansion to 4×dim, 3×3 depthwise stride 2, squeeze-excite, 1×1 projection to the next width.
/// </summary>
internal sealed class PatchMerging : nn.Module<Tensor, Tensor>
{
    private readonly Conv2dBN conv1;
    private readonly ReLU act;
    private readonly Conv2dBN conv2;
    private readonly SqueezeExcite se;
    private readonly Conv2dBN conv3;

    /// <summary>Creates the merge from <paramref name="dim"/> to <paramref name="outDim"/> channels, halving the resolution.</summary>
    public PatchMerging(long dim, long outDim) : base(nameof(PatchMerging))
    {
        var hidden = dim * 4;
        conv1 = new Conv2dBN(dim, hidden);
        act = nn.ReLU();
        conv2 = new Conv2dBN(hidden, hidden, kernelSize: 3, stride: 2, padding: 1, groups: hidden);
        se = new SqueezeExcite(hidden, 0.25);
        conv3 = new Conv2dBN(hidden, outDim);
        RegisterComponents();
    }

    internal Conv2dBN Conv1 => conv1;

    internal Conv2dBN Conv2 => conv2;

    internal SqueezeExcite Se => se;

    internal Conv2dBN Conv3 => conv3;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        // Intermediates the backward pass does not need are freed now, not when the caller's scope ends (see Residual).
        using var scope = NewDisposeScope();
        return conv3.call(se.call(act.call(conv2.call(act.call(conv1.call(x)))))).MoveToOuterDisposeScope();
    }
}
