using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// Batch normalization followed by a linear classifier (official <c>BN_Linear</c>; children <c>bn</c>
/// and <c>l</c>). The linear weight starts truncated-normal with std 0.02 and the bias at 0.
/// </summary>
public class BNLinear : nn.Module<Tensor, Tensor>, IFusable
{
    private BatchNorm1d? bn;
    private readonly Linear l;

    /// <summary>Creates the classifier from <paramref name="inFeatures"/> features to <paramref name="outFeatures"/> outputs.</summary>
    public BNLinear(long inFeatures, long outFeatures, double std = 0.02) : base(nameof(BNLinear))
    {
        bn = nn.BatchNorm1d(inFeatures);
        l = nn.Linear(inFeatures, outFeatures);
        using (no_grad())
        {
            nn.init.trunc_normal_(l.weight, std: std);
            l.bias!.zero_();
        }
        RegisterComponents();
    }

    /// <summary>
    /// A classifier sharing <paramref name="layer"/>'s normalization and linear layer (the same modules and
    /// tensors), for a subclass that computes the same function another way.
    /// </summary>
    private protected BNLinear(BNLinear layer) : base(nameof(BNLinear))
    {
        bn = layer.bn;
        l = layer.l;
    }

    /// <summary>Input features.</summary>
    public long InFeatures => l.in_features;

    /// <summary>Outputs (classes).</summary>
    public long OutFeatures => l.out_features;

    /// <summary>The linear layer.</summary>
    public Linear Linear => l;

    /// <summary>The batch normalization, or null once fused.</summary>
    internal BatchNorm1d? BatchNorm => bn;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => bn is null ? l.call(x) : l.call(bn.call(x));

    /// <summary>Folds the normalization into the linear layer: W·diag(s) and W·(β − μ·s) + b with s = γ/√(σ²+ε).</summary>
    public void FuseBatchNorm()
    {
        if (bn is null) return;
        var (weight, bias) = FusedWeightAndBias();
        l.weight = new Parameter(weight);
        l.bias = new Parameter(bias);
        register_module(nameof(bn), null!);
        bn.Dispose();
        bn = null;
    }

    /// <summary>The weight and bias of the single linear layer equal to BN then linear in eval mode, as new tensors (the module is unchanged).</summary>
    public (Tensor Weight, Tensor Bias) FusedWeightAndBias()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        if (bn is null)
            return (l.weight.detach().clone().MoveToOuterDisposeScope(), l.bias!.detach().clone().MoveToOuterDisposeScope());
        var scale = bn.weight / bn.running_var!.Plus(bn.eps).sqrt();
        var shift = bn.bias! - bn.running_mean! * scale;
        var weight = l.weight * scale.unsqueeze(0);
        var bias = l.weight.matmul(shift).Plus(l.bias!);
        return (weight.contiguous().MoveToOuterDisposeScope(), bias.contiguous().MoveToOuterDisposeScope());
    }
}
