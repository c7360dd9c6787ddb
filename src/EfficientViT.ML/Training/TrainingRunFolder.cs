using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.IO;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Preprocessing;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>
/// The folder of a training run: the <c>last</c> checkpoint (where the run stands), the <c>best</c> one (the
/// best validation top-1), <c>metrics.csv</c> and <c>curves.svg</c>.
/// </summary>
/// <remarks>
/// Saving an epoch is one atomic step: <c>last</c> is replaced by a complete new folder with one rename, and
/// it holds everything else the run folder shows — the epoch table and whether it is the best epoch. The best
/// checkpoint, <c>metrics.csv</c> and <c>curves.svg</c> are then brought up to date from it. A process killed
/// after the rename leaves them behind; <see cref="Repair"/> (which resuming runs first) brings them up to
/// date, and removes what a process killed during a write left over.
/// </remarks>
/// <example>
/// <code>
/// var run = new TrainingRunFolder("runs/m0");
/// var model = EfficientVitCheckpoint.Load(run.BestModelPath).Model;   // the best weights of a finished run
/// </code>
/// </example>
public sealed class TrainingRunFolder
{
    /// <summary>Name of the checkpoint folder of the latest epoch.</summary>
    public const string LastCheckpoint = "last";

    /// <summary>Name of the checkpoint folder with the best validation top-1.</summary>
    public const string BestCheckpoint = "best";

    /// <summary>Name of the per-epoch metrics file.</summary>
    public const string MetricsFile = "metrics.csv";

    /// <summary>Name of the chart of the loss and accuracy curves.</summary>
    public const string CurvesFile = "curves.svg";

    /// <summary>Names the run's folder; nothing is read or written yet.</summary>
    /// <exception cref="IOException"><paramref name="path"/> is a file.</exception>
    public TrainingRunFolder(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
        if (File.Exists(Path))
            throw new IOException($"{Path} is a file; a training run needs a folder for its checkpoints and metrics.");
    }

    /// <summary>The full path of the folder.</summary>
    public string Path { get; }

    /// <summary>The checkpoint folder of the latest epoch.</summary>
    public string LastPath => System.IO.Path.Combine(Path, LastCheckpoint);

    /// <summary>The checkpoint folder of the best epoch.</summary>
    public string BestPath => System.IO.Path.Combine(Path, BestCheckpoint);

    /// <summary>The weights of the best epoch, loadable with <see cref="EfficientVitCheckpoint.Load"/>.</summary>
    public string BestModelPath => System.IO.Path.Combine(BestPath, TrainingCheckpoint.ModelFile);

    /// <summary>The weights of the latest epoch.</summary>
    public string LastModelPath => System.IO.Path.Combine(LastPath, TrainingCheckpoint.ModelFile);

    /// <summary>The per-epoch metrics table.</summary>
    public string MetricsPath => System.IO.Path.Combine(Path, MetricsFile);

    /// <summary>The chart of the training curves.</summary>
    public string CurvesPath => System.IO.Path.Combine(Path, CurvesFile);

    /// <summary>Whether the folder holds a checkpoint to resume from.</summary>
    public bool HasCheckpoint => TrainingCheckpoint.Exists(LastPath);

    /// <summary>
    /// Draws <c>curves.svg</c> from the epochs so far, e.g. <c>SvgCharts.TrainingCurves</c> of the
    /// EfficientViT.Reporting package; null (default): the folder has no chart. The model library draws no
    /// charts itself.
    /// </summary>
    public Func<IReadOnlyList<EpochSummary>, string>? Chart { get; init; }

    // Lets tests fail a write half-way, as a full disk would; receives each file name once written.
    internal Action<string>? AfterFileWritten { get; set; }

    /// <summary>
    /// Repairs the folder (see <see cref="Repair"/>), restores the model, optimizer and EMA from the
    /// <c>last</c> checkpoint, and returns where the run stood with its finished epochs.
    /// </summary>
    /// <exception cref="InvalidOperationException">The folder holds no checkpoint.</exception>
    internal (TrainingState State, List<EpochSummary> Epochs) Resume(EfficientVit model, OptimizerHelper optimizer, ModelEma? ema)
    {
        RequireCheckpoint();
        Repair();
        var state = TrainingCheckpoint.Load(LastPath, model, optimizer, ema);
        // Checkpoints of earlier versions do not hold the epoch table; the folder's has it then.
        var epochs = TrainingCheckpoint.ReadEpochs(LastPath) ?? MetricsCsv.Read(MetricsPath) ?? [];
        return (state, epochs);
    }

    /// <summary>
    /// The resize filter the run's <c>last</c> checkpoint records, which the run keeps when it is resumed. Null for a run of
    /// an earlier version, whose records name none: its transforms resize bilinearly without antialiasing
    /// (see <see cref="ImagePreprocessing.Interpolation"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The folder holds no checkpoint.</exception>
    internal ImageInterpolation? RecordedInterpolation()
    {
        RequireCheckpoint();
        // Weights without a record are read as an earlier version's record: nothing says they were resized otherwise.
        return TrainingCheckpoint.ReadMetadata(LastPath)?.Preprocessing.Interpolation;
    }

    /// <summary>A recorded interpolation in words, for messages: "bilinear", or what a record without one stands for.</summary>
    internal static string Describe(ImageInterpolation? interpolation) =>
        interpolation?.ToString().ToLowerInvariant()
        ?? "the bilinear filter of earlier versions, without antialiasing (it records no interpolation; Bilinear is PIL's antialiased filter)";

    /// <summary>Throws an <see cref="InvalidOperationException"/> naming the folder when it holds no checkpoint to resume from, and what its <c>last</c> folder lacks.</summary>
    public void RequireCheckpoint()
    {
        if (HasCheckpoint)
            return;
        if (!Directory.Exists(LastPath))
            throw new InvalidOperationException($"{Path}: no training checkpoint to resume from (expected {LastPath} with a state.json).");
        throw new InvalidOperationException($"{Path}: no complete training checkpoint to resume from: {LastPath} {TrainingCheckpoint.Contents(LastPath)}.");
    }

    /// <summary>
    /// Locks the folder for this process until the lock is disposed (creating the folder): a training run holds it
    /// while it runs, so that a second run into the same folder fails at once instead of interleaving its saves.
    /// The lock is released when the process ends, however it ends.
    /// </summary>
    /// <exception cref="IOException">Another run holds it: "run folder /abs/runs/x in use by process 1234: ...".</exception>
    public IDisposable Lock() => FolderLock.Acquire(Path, "run folder");

    /// <summary>Throws the <see cref="IOException"/> of <see cref="Lock"/> when another run holds the folder, without keeping the lock.</summary>
    public void ThrowIfInUse() => FolderLock.ThrowIfHeld(Path, "run folder");

    /// <summary>
    /// Saves where the run stands as the <c>last</c> checkpoint, in one atomic step, then updates
    /// <c>best</c> (when <paramref name="state"/>'s <see cref="TrainingState.BestEpoch"/> is this epoch),
    /// <c>metrics.csv</c> and <c>curves.svg</c> from it.
    /// </summary>
    internal void Save(EfficientVit model, CheckpointMetadata metadata, OptimizerHelper optimizer, IReadOnlyDictionary<string, Tensor>? ema,
        TrainingState state, IReadOnlyList<EpochSummary> epochs)
    {
        Directory.CreateDirectory(Path);
        TrainingCheckpoint.Save(LastPath, model, metadata, optimizer, ema, state, epochs, AfterFileWritten);
        if (IsBestEpoch(state))
            TrainingCheckpoint.Copy(LastPath, BestPath, AfterFileWritten);
        Publish(epochs);
    }

    /// <summary>
    /// Brings the folder to the state its <c>last</c> checkpoint records, whatever point a killed process
    /// stopped at: leftovers of an unfinished write are removed (or a checkpoint moved aside is put back), the
    /// best checkpoint is copied again if <c>last</c> is the best epoch and <c>best</c> is not that copy, and
    /// <c>metrics.csv</c> and <c>curves.svg</c> are rewritten if they lack epochs.
    /// </summary>
    public void Repair()
    {
        if (!Directory.Exists(Path))
            return;
        TrainingCheckpoint.Recover(LastPath);
        TrainingCheckpoint.Recover(BestPath);
        foreach (var file in new[] { MetricsFile, CurvesFile })
        {
            // AtomicFile's temporary files: .<name>.<guid>.tmp
            foreach (var leftover in Directory.EnumerateFiles(Path, $".{file}.*.tmp"))
                File.Delete(leftover);
        }
        if (TrainingCheckpoint.ReadState(LastPath) is not { } state)
            return;
        if (IsBestEpoch(state) && !SameState(TrainingCheckpoint.ReadState(BestPath), state))
            TrainingCheckpoint.Copy(LastPath, BestPath, AfterFileWritten);
        if (TrainingCheckpoint.ReadEpochs(LastPath) is { } epochs)
            Publish(epochs);
    }

    // The best checkpoint is taken at an epoch's end, when that epoch reached the best top-1.
    private static bool IsBestEpoch(TrainingState state) =>
        state.BestEpoch > 0 && state.BestEpoch == state.Epoch && state.BatchesDoneInEpoch == 0;

    private static bool SameState(TrainingState? a, TrainingState b) => a is not null && a.ToJson() == b.ToJson();

    // The chart first, the table last: an up-to-date table means the chart is up to date too.
    private void Publish(IReadOnlyList<EpochSummary> epochs)
    {
        if (epochs.Count == 0)
            return;
        var table = MetricsCsv.Format(epochs);
        if (File.Exists(MetricsPath) && File.ReadAllText(MetricsPath) == table)
            return;
        if (Chart is not null)
            AtomicFile.WriteAllText(CurvesPath, Chart(epochs));
        AtomicFile.WriteAllText(MetricsPath, table);
    }
}
