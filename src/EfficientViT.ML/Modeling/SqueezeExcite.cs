using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// Squeeze-and-excitation (as timm's <c>SqueezeExcite</c>, children <c>fc1</c> and <c>fc2</c>): global
/// average pool, 1×1 conv to the reduced width, ReLU, 1×1 conv back, sigmoid gate on the input.
/// </summary>
internal class SqueezeExcite : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d fc1;
    private readonly ReLU act;
    private readonly Conv2d fc2;

    /// <summary>Creates the gate for <paramref name="channels"/> channels reduced by <paramref name="reductionRatio"/>.</summary>
    public SqueezeExcite(long channels, double reductionRatio = 0.25) : base(nameof(SqueezeExcite))
    {
        var reduced = MakeDivisible(channels * reductionRatio, 8);
        fc1 = nn.Conv2d(channels, reduced, 1);
        act = nn.ReLU();
        fc2 = nn.Conv2d(reduced, channels, 1);
        RegisterComponents();
    }

    /// <summary>
    /// A gate sharing <paramref name="layer"/>'s convolutions and activation (the same modules and tensors), for a
    /// subclass that computes the same function another way.
    /// </summary>
    private protected SqueezeExcite(SqueezeExcite layer) : base(nameof(SqueezeExcite))
    {
        fc1 = layer.fc1;
        act = layer.act;
        fc2 = layer.fc2;
    }

    internal Conv2d Fc1 => fc1;

    internal ReLU Activation => act;

    internal Conv2d Fc2 => fc2;

    /// <summary>
    /// timm's rounding of a reduced width: the nearest multiple of <paramref name="divisor"/>, at least
    /// the divisor itself (with no bump for rounding down, as SqueezeExcite asks).
    /// </summary>
    public static long MakeDivisible(double value, int divisor) =>
        Math.Max(divisor, (long)(value + divisor / 2.0) / divisor * divisor);

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        var squeezed = x.mean(new long[] { 2, 3 }, keepdim: true);
        var gate = fc2.call(act.call(fc1.call(squeezed))).sigmoid();
        return x * gate;
    }
}
