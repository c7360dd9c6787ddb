using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary><see cref="SqueezeExcite"/> with its two 1x1 convolutions of the pooled 1x1 map as the matrix products they are (<see cref="OnePixelConvolution"/>).</summary>
internal sealed class FastSqueezeExcite : SqueezeExcite, IFastLayer
{
    public FastSqueezeExcite(SqueezeExcite layer) : base(layer) => Layer = layer;

    /// <inheritdoc/>
    public nn.Module Layer { get; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        var squeezed = x.mean(new long[] { 2, 3 }, keepdim: true);
        var reduced = Activation.call(OnePixelConvolution.Call(Fc1, 1, 1, 0, 1, squeezed));
        var gate = OnePixelConvolution.Call(Fc2, 1, 1, 0, 1, reduced).sigmoid();
        return x * gate;
    }
}
