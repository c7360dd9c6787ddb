namespace EfficientViT.ML.Training;

/// <summary>
/// How many more optimizer steps fit in the time a run has left, given what a step and an epoch's end (validation
/// and checkpoint) cost: the arithmetic of <see cref="TrainingTimeBudget"/>, without a clock.
/// </summary>
internal static class TimeBudgetPlanner
{
    /// <summary>
    /// The most steps, from <paramref name="stepsDone"/> on, whose cost fits in <paramref name="availableSeconds"/>:
    /// each step costs <paramref name="secondsPerStep"/>, and each epoch the run touches ends with validation and a
    /// checkpoint costing <paramref name="secondsPerEpochEnd"/> (the last epoch too when the plan ends inside it,
    /// and the current one when it has steps done that were not validated yet).
    /// </summary>
    /// <param name="availableSeconds">The time left for training, validation and checkpoints.</param>
    /// <param name="stepsDone">Optimizer steps done in the run.</param>
    /// <param name="batchesDoneInEpoch">Steps done in the current epoch (<paramref name="stepsPerEpoch"/> when it ended and was not validated yet).</param>
    /// <param name="stepsPerEpoch">Optimizer steps per epoch.</param>
    /// <param name="maxSteps">The most steps the run may reach (its epochs, or a step limit).</param>
    /// <param name="secondsPerStep">The cost of a step, data loading included.</param>
    /// <param name="secondsPerEpochEnd">The cost of an epoch's end: a validation pass and a checkpoint.</param>
    /// <returns>The planned total steps of the run, from <paramref name="stepsDone"/> to <paramref name="maxSteps"/>.</returns>
    public static long PlanTotalSteps(double availableSeconds, long stepsDone, long batchesDoneInEpoch, long stepsPerEpoch, long maxSteps,
        double secondsPerStep, double secondsPerEpochEnd)
    {
        if (stepsPerEpoch < 1)
            throw new ArgumentOutOfRangeException(nameof(stepsPerEpoch), stepsPerEpoch, "stepsPerEpoch must be at least 1.");
        if (batchesDoneInEpoch < 0 || batchesDoneInEpoch > stepsPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(batchesDoneInEpoch), batchesDoneInEpoch, $"batchesDoneInEpoch must be in [0, {stepsPerEpoch}].");
        if (!(secondsPerStep > 0) || !(secondsPerEpochEnd >= 0))
            throw new ArgumentException($"Costs must be positive (a step: {secondsPerStep} s) and not negative (an epoch's end: {secondsPerEpochEnd} s).");

        double Cost(long steps) => steps * secondsPerStep + EpochEnds(steps, batchesDoneInEpoch, stepsPerEpoch) * secondsPerEpochEnd;

        // The cost grows with the steps: the largest count that fits, by bisection.
        long low = 0, high = Math.Max(0, maxSteps - stepsDone);
        if (Cost(high) <= availableSeconds)
            return stepsDone + high;
        while (low < high)
        {
            var middle = low + (high - low + 1) / 2;
            if (Cost(middle) <= availableSeconds)
                low = middle;
            else
                high = middle - 1;
        }
        return stepsDone + low;
    }

    /// <summary>The epoch ends (validations and checkpoints) still ahead when <paramref name="steps"/> more steps run.</summary>
    public static long EpochEnds(long steps, long batchesDoneInEpoch, long stepsPerEpoch)
    {
        var leftInEpoch = stepsPerEpoch - batchesDoneInEpoch;
        var current = batchesDoneInEpoch + Math.Min(steps, leftInEpoch) > 0 ? 1 : 0;
        var later = Math.Max(0, steps - leftInEpoch);
        return current + (later + stepsPerEpoch - 1) / stepsPerEpoch;
    }
}
