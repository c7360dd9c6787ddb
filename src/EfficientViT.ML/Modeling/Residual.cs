using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// <c>x + m(x)</c>. While training with a drop-path rate p, the branch of each sample is kept with
/// probability 1 − p and scaled by 1/(1 − p), so its expectation is unchanged (stochastic depth).
/// </summary>
internal sealed class Residual : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> m;

    /// <summary>Wraps <paramref name="branch"/> with a skip connection.</summary>
    public Residual(nn.Module<Tensor, Tensor> branch, double dropPath = 0.0) : base(nameof(Residual))
    {
        m = branch;
        DropPath = dropPath;
        RegisterComponents();
    }

    /// <summary>Probability of dropping the branch for a sample during training.</summary>
    public double DropPath { get; set; }

    /// <summary>The wrapped branch.</summary>
    public nn.Module<Tensor, Tensor> Branch => m;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        // The branch's intermediate tensors are freed when it returns, as PyTorch frees them: those the backward pass
        // needs stay referenced by the autograd graph, the rest would otherwise stay alive in the caller's dispose scope
        // until the whole training step ends (a third of M0's activations at 224x224).
        using var scope = NewDisposeScope();
        if (!training || DropPath <= 0)
            return x.Plus(m.call(x)).MoveToOuterDisposeScope();
        // Held for the whole call: see ScalarSafe.
        using var dropPath = DropPath.ToScalar();
        using var keepProbability = (1 - DropPath).ToScalar();
        var keep = rand(new long[] { x.shape[0], 1, 1, 1 }, device: x.device).ge_(dropPath).div_(keepProbability).detach();
        return x.Plus(m.call(x) * keep).MoveToOuterDisposeScope();
    }
}
