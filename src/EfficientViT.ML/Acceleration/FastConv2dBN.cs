using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// <see cref="Conv2dBN"/> computed faster: a convolution giving one pixel as the product it is
/// (<see cref="OnePixelConvolution"/>), and the normalization through <see cref="BatchNormForward"/> (small maps as
/// channels-last rows, narrow channels-last maps on one thread, the batch count kept without Scalar temporaries).
/// </summary>
internal sealed class FastConv2dBN : Conv2dBN, IFastLayer
{
    public FastConv2dBN(Conv2dBN layer) : base(layer) => Layer = layer;

    /// <inheritdoc/>
    public nn.Module Layer { get; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        var y = OnePixelConvolution.Call(Conv, KernelSize, Stride, Padding, Groups, x);
        return BatchNorm is { } bn ? BatchNormForward.Apply(bn, y) : y;
    }
}
