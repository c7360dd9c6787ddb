using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// While installed, each of the model's four parts (the patch embedding and the three stages) runs in a dispose scope
/// of its own and hands on only its output. The patch embedding's layers are not residual branches (which free their
/// intermediates themselves, see <see cref="Residual"/>): without it a normalization's output feeding a ReLU at half
/// the input's side (49 MiB per layer for M0 at 224x224, batch 128) stayed alive until the training step ended, though
/// the backward pass needs only what the autograd graph holds.
/// </summary>
internal sealed class PartScopes : IDisposable
{
    private readonly EfficientVit model;

    private PartScopes(EfficientVit model)
    {
        this.model = model;
        model.StageRunner = Run;
    }

    /// <summary>Runs the parts of <paramref name="model"/> in scopes of their own until disposed.</summary>
    public static PartScopes Install(EfficientVit model)
    {
        if (model.StageRunner is not null)
            throw new InvalidOperationException("This model's parts are run another way already.");
        return new PartScopes(model);
    }

    /// <summary><paramref name="part"/> on <paramref name="x"/>, its intermediates freed when it returns (those the graph holds excepted).</summary>
    public static Tensor Run(nn.Module<Tensor, Tensor> part, Tensor x)
    {
        using var scope = NewDisposeScope();
        return part.call(x).MoveToOuterDisposeScope();
    }

    /// <summary>Runs the model's parts as it did before.</summary>
    public void Dispose() => model.StageRunner = null;
}
