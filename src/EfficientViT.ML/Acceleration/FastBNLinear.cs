using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary><see cref="BNLinear"/> with its normalization through <see cref="BatchNormForward"/> (the batch count kept without Scalar temporaries).</summary>
internal sealed class FastBNLinear : BNLinear, IFastLayer
{
    public FastBNLinear(BNLinear layer) : base(layer) => Layer = layer;

    /// <inheritdoc/>
    public nn.Module Layer { get; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => Linear.call(BatchNorm is { } bn ? BatchNormForward.Apply(bn, x) : x);
}
