using TorchSharp.Modules;

namespace EfficientViT.ML.Training;

/// <summary>
/// An AdamW optimizer together with a description of its parameter groups, in the optimizer's
/// group order, so that a schedule can set each group's rate as a multiple of the scheduled one.
/// </summary>
/// <param name="Optimizer">The optimizer; disposing this object disposes it.</param>
/// <param name="Groups">The parameter groups, in the order of <c>Optimizer.ParamGroups</c>.</param>
internal sealed record AdamWWithGroups(AdamW Optimizer, IReadOnlyList<OptimizerGroup> Groups) : IDisposable
{
    /// <summary>Each group's learning rate multiplier, in group order.</summary>
    public double[] LearningRateScales => Groups.Select(group => group.LearningRateScale).ToArray();

    /// <summary>Sets every group's learning rate to <paramref name="learningRate"/> times its scale.</summary>
    public void SetLearningRate(double learningRate) => CosineSchedule.Apply(Optimizer, learningRate, LearningRateScales);

    /// <summary>
    /// Clips the gradients of the optimizer's parameters between <c>backward()</c> and the step, as
    /// <see cref="GradientClipping.Apply"/> does; over the flat gradient buffer in a few calls when the
    /// optimizer keeps one.
    /// </summary>
    public void ClipGradients(GradientClipMode mode, double value)
    {
        if (Optimizer is ScalarSafeAdamW { Flat: { } flat })
            FlatGradientClipping.Apply(flat, mode, value);
        else
            GradientClipping.Apply(Optimizer.ParamGroups.Cast<ParamGroup>().SelectMany(group => group.Parameters), mode, value);
    }

    /// <summary>Disposes the optimizer and its state.</summary>
    public void Dispose() => Optimizer.Dispose();
}
