namespace EfficientViT.ML.Training;

/// <summary>What a training run did.</summary>
/// <param name="Epochs">One summary per finished epoch.</param>
/// <param name="Completed">True when every epoch ran (or <see cref="TrainerOptions.MaxSteps"/> was reached).</param>
/// <param name="StopReason">Why the run stopped early (cancelled, non-finite loss), or null.</param>
/// <param name="BestTop1">Best validation top-1 in [0, 1], NaN without validation data.</param>
/// <param name="Steps">Optimizer steps done in the run, resumed ones included.</param>
public sealed record TrainingResult(IReadOnlyList<EpochSummary> Epochs, bool Completed, string? StopReason, double BestTop1, long Steps)
{
    /// <summary>True when the run stopped because its cancellation token was cancelled (after saving a checkpoint when it has a folder).</summary>
    public bool Cancelled { get; init; }

    /// <summary>With a time budget (<see cref="TrainerOptions.TimeBudget"/>): what it bought and what the run spent; else null.</summary>
    public TimeBudgetPlan? TimeBudget { get; init; }

    /// <summary>The thread count the training steps last chose (<see cref="TrainerOptions.Threads"/> unset), for work that follows on the same machine; else null.</summary>
    internal int? ThreadsChosen { get; init; }
}
