using TorchSharp;

namespace EfficientViT.ML.Training;

/// <summary>
/// Learning rate per optimizer step: linear warm-up from the warm-up rate to the base rate, then a
/// half cosine from the base rate down to the minimum at the last step.
/// </summary>
/// <remarks>
/// Steps are numbered 0 to <see cref="TotalSteps"/> − 1. Step 0 uses the warm-up rate, step
/// <see cref="WarmupSteps"/> the base rate, the last step the minimum; later steps stay at the minimum.
/// The official recipe (timm's scheduler) changes the rate once per epoch; per step gives the same
/// curve without the staircase.
/// </remarks>
internal sealed class CosineSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="baseLearningRate">Peak rate, reached at the end of the warm-up.</param>
    /// <param name="minLearningRate">Rate at the last step.</param>
    /// <param name="warmupLearningRate">Rate at step 0.</param>
    /// <param name="warmupSteps">Steps of linear warm-up (0 starts the cosine at once).</param>
    /// <param name="totalSteps">All steps of the run, warm-up included.</param>
    public CosineSchedule(double baseLearningRate, double minLearningRate, double warmupLearningRate, long warmupSteps, long totalSteps)
    {
        if (baseLearningRate <= 0)
            throw new ArgumentOutOfRangeException(nameof(baseLearningRate), baseLearningRate, "The base learning rate must be positive.");
        if (minLearningRate < 0)
            throw new ArgumentOutOfRangeException(nameof(minLearningRate), minLearningRate, "The minimum learning rate must not be negative.");
        if (warmupLearningRate < 0)
            throw new ArgumentOutOfRangeException(nameof(warmupLearningRate), warmupLearningRate, "The warm-up learning rate must not be negative.");
        if (totalSteps < 1)
            throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "totalSteps must be at least 1.");
        if (warmupSteps < 0 || warmupSteps >= totalSteps)
            throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, $"warmupSteps must be in [0, totalSteps = {totalSteps}).");

        BaseLearningRate = baseLearningRate;
        MinLearningRate = minLearningRate;
        WarmupLearningRate = warmupLearningRate;
        WarmupSteps = warmupSteps;
        TotalSteps = totalSteps;
    }

    /// <summary>The schedule of a recipe: peak <see cref="TrainingRecipe.ScaledLearningRate"/>, warm-up and run lengths in steps.</summary>
    /// <param name="recipe">The recipe.</param>
    /// <param name="stepsPerEpoch">Optimizer steps per epoch.</param>
    public static CosineSchedule ForRecipe(TrainingRecipe recipe, long stepsPerEpoch)
    {
        if (stepsPerEpoch < 1)
            throw new ArgumentOutOfRangeException(nameof(stepsPerEpoch), stepsPerEpoch, "stepsPerEpoch must be at least 1.");
        return new CosineSchedule(
            recipe.ScaledLearningRate(), recipe.MinLearningRate, recipe.WarmupLearningRate,
            recipe.WarmupEpochs * stepsPerEpoch, recipe.Epochs * stepsPerEpoch);
    }

    /// <summary>Peak rate.</summary>
    public double BaseLearningRate { get; }

    /// <summary>Final rate.</summary>
    public double MinLearningRate { get; }

    /// <summary>Rate at step 0.</summary>
    public double WarmupLearningRate { get; }

    /// <summary>Warm-up length in steps.</summary>
    public long WarmupSteps { get; }

    /// <summary>Run length in steps.</summary>
    public long TotalSteps { get; }

    /// <summary>The learning rate for optimizer step <paramref name="step"/> (0-based).</summary>
    public double LearningRate(long step)
    {
        if (step < 0)
            throw new ArgumentOutOfRangeException(nameof(step), step, "step must not be negative.");
        if (step < WarmupSteps)
            return WarmupLearningRate + (BaseLearningRate - WarmupLearningRate) * step / WarmupSteps;

        // The cosine runs from the first step after warm-up to the last step, so both ends are hit exactly.
        var decaySteps = TotalSteps - 1 - WarmupSteps;
        var progress = decaySteps > 0 ? Math.Min(1.0, (double)(step - WarmupSteps) / decaySteps) : 1.0;
        return MinLearningRate + 0.5 * (BaseLearningRate - MinLearningRate) * (1 + Math.Cos(Math.PI * progress));
    }

    /// <summary>Sets the learning rate of every parameter group of <paramref name="optimizer"/> to <paramref name="learningRate"/>.</summary>
    public static void Apply(torch.optim.Optimizer optimizer, double learningRate)
    {
        foreach (var group in optimizer.ParamGroups)
            group.LearningRate = learningRate;
    }

    /// <summary>
    /// Sets parameter group i's learning rate to <paramref name="learningRate"/> × <paramref name="scales"/>[i]
    /// (for example a lower rate for a pre-trained backbone).
    /// </summary>
    public static void Apply(torch.optim.Optimizer optimizer, double learningRate, IReadOnlyList<double> scales)
    {
        var groups = optimizer.ParamGroups.ToList();
        if (groups.Count != scales.Count)
            throw new ArgumentException($"The optimizer has {groups.Count} parameter groups but {scales.Count} scales were given.", nameof(scales));
        for (var i = 0; i < groups.Count; i++)
            groups[i].LearningRate = learningRate * scales[i];
    }
}
