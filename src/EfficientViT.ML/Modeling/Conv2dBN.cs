using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// Convolution without bias followed by batch normalization (official <c>Conv2d_BN</c>; children
/// <c>c</c> and <c>bn</c>). <see cref="FuseBatchNorm"/> folds the normalization into the convolution,
/// after which the module holds <c>c.weight</c> and <c>c.bias</c> only.
/// </summary>
internal class Conv2dBN : nn.Module<Tensor, Tensor>, IFusable
{
    private readonly Conv2d c;
    private BatchNorm2d? bn;

    /// <summary>Creates the pair; the normalization's scale starts at <paramref name="bnWeightInit"/> and its shift at 0.</summary>
    public Conv2dBN(long inChannels, long outChannels, long kernelSize = 1, long stride = 1, long padding = 0, long groups = 1, double bnWeightInit = 1.0)
        : base(nameof(Conv2dBN))
    {
        (KernelSize, Stride, Padding, Groups) = (kernelSize, stride, padding, groups);
        c = nn.Conv2d(inChannels, outChannels, kernelSize, stride, padding, groups: groups, bias: false);
        bn = nn.BatchNorm2d(outChannels);
        using (no_grad())
        {
            using var initialScale = bnWeightInit.ToScalar();
            bn.weight.fill_(initialScale);
            bn.bias!.zero_();
        }
        RegisterComponents();
    }

    /// <summary>
    /// A layer sharing <paramref name="layer"/>'s convolution and normalization (the same modules and tensors), for
    /// a subclass that computes the same function another way.
    /// </summary>
    private protected Conv2dBN(Conv2dBN layer) : base(nameof(Conv2dBN))
    {
        (KernelSize, Stride, Padding, Groups) = (layer.KernelSize, layer.Stride, layer.Padding, layer.Groups);
        c = layer.c;
        bn = layer.bn;
    }

    /// <summary>Side of the square kernel.</summary>
    public long KernelSize { get; }

    /// <summary>Stride in both directions.</summary>
    public long Stride { get; }

    /// <summary>Zero padding on every side.</summary>
    public long Padding { get; }

    /// <summary>Convolution groups (the channel count for depthwise).</summary>
    public long Groups { get; }

    /// <summary>The convolution (with bias once fused).</summary>
    public Conv2d Conv => c;

    /// <summary>The batch normalization, or null once fused.</summary>
    public BatchNorm2d? BatchNorm => bn;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => bn is null ? c.call(x) : bn.call(c.call(x));

    /// <summary>Folds the running statistics and affine parameters of <c>bn</c> into <c>c</c>: w·γ/√(σ²+ε) and β − μ·γ/√(σ²+ε).</summary>
    public void FuseBatchNorm()
    {
        if (bn is null) return;
        var (weight, bias) = FusedWeightAndBias();
        c.weight = new Parameter(weight);
        c.bias = new Parameter(bias);
        register_module(nameof(bn), null!);
        bn.Dispose();
        bn = null;
    }

    /// <summary>The weight and bias of the single convolution equal to conv then BN in eval mode, as new tensors (the module is unchanged).</summary>
    public (Tensor Weight, Tensor Bias) FusedWeightAndBias()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        if (bn is null)
            return (c.weight.detach().clone().MoveToOuterDisposeScope(), (c.bias?.detach().clone() ?? zeros(c.weight.shape[0])).MoveToOuterDisposeScope());
        var scale = bn.weight / bn.running_var!.Plus(bn.eps).sqrt();
        var weight = c.weight * scale.view(-1, 1, 1, 1);
        var bias = bn.bias! - bn.running_mean! * scale;
        return (weight.contiguous().MoveToOuterDisposeScope(), bias.contiguous().MoveToOuterDisposeScope());
    }
}
