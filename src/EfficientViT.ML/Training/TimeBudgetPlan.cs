namespace EfficientViT.ML.Training;

/// <summary>
/// What a time budget (<see cref="TrainerOptions.TimeBudget"/>) bought: the run's length as last planned and the
/// time it took. Saved in the run folder's <c>last/state.json</c>, so that a resumed run keeps its plan and the
/// budget left (the budget less the time spent), and returned in <see cref="TrainingResult.TimeBudget"/>.
/// </summary>
public sealed record TimeBudgetPlan
{
    /// <summary>The budget of the whole run, resumed parts included, in seconds.</summary>
    public double BudgetSeconds { get; init; }

    /// <summary>The time the run has spent so far (its parts before a resume included), in seconds.</summary>
    public double SpentSeconds { get; init; }

    /// <summary>Optimizer steps the run plans in all (done ones included).</summary>
    public long PlannedSteps { get; init; }

    /// <summary>The planned steps as epochs of the training data (the last one may be partial).</summary>
    public double PlannedEpochs { get; init; }

    /// <summary>Training images the planned steps see (batches × batch size).</summary>
    public long PlannedImages { get; init; }

    /// <summary>
    /// How far along its learning-rate schedule the run is, from 0 at the first step to 1 at the last: the
    /// warm-up and cosine decay are functions of it (see <see cref="TrainingTimeBudget"/>).
    /// </summary>
    public double Progress { get; init; }

    /// <summary>The measured cost of a training step, data loading included, in seconds.</summary>
    public double SecondsPerStep { get; init; }

    /// <summary>The cost of a validation pass in seconds (estimated from the step's until one is measured).</summary>
    public double SecondsPerValidation { get; init; }

    /// <summary>The cost of saving a checkpoint in seconds (estimated until one is measured).</summary>
    public double SecondsPerSave { get; init; }

    /// <summary>"budget 8m00s: 2,340 steps planned (5.0 epochs, 299,520 images); 1m12s spent".</summary>
    public override string ToString() =>
        $"budget {TimeBudgetFormat.Format(BudgetSeconds)}: {PlannedSteps:N0} steps planned ({PlannedEpochs:F1} epochs, {PlannedImages:N0} images); {TimeBudgetFormat.Format(SpentSeconds)} spent";
}
