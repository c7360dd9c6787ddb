using System.Text.Json;

namespace EfficientViT.ML.Training;

/// <summary>Where a run stands: enough, with the weights, optimizer and EMA, to continue it exactly.</summary>
internal sealed record TrainingState
{
    /// <summary>The epoch to run (or continue) next, zero-based.</summary>
    public int Epoch { get; init; }

    /// <summary>Batches of <see cref="Epoch"/> already done.</summary>
    public int BatchesDoneInEpoch { get; init; }

    /// <summary>Optimizer steps done in the run.</summary>
    public long Step { get; init; }

    /// <summary>Best validation top-1 so far (NaN when there is none).</summary>
    public double BestTop1 { get; init; } = double.NaN;

    /// <summary>
    /// Epochs done when the best validation top-1 was reached (0 before any): the <c>best</c> checkpoint of a
    /// run is a copy of the <c>last</c> one taken when <see cref="Epoch"/> equalled this.
    /// </summary>
    public int BestEpoch { get; init; }

    /// <summary>The run's seed; every random draw derives from it, the epoch and the step.</summary>
    public int Seed { get; init; }

    /// <summary>The plan of a run with a time budget (<see cref="TrainerOptions.TimeBudget"/>), or null.</summary>
    public TimeBudgetPlan? Budget { get; init; }

    internal string ToJson() => JsonSerializer.Serialize(this, Options);

    internal static TrainingState FromJson(string json, string source) =>
        JsonSerializer.Deserialize<TrainingState>(json, Options) ?? throw new InvalidDataException($"{source}: empty training state.");

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
