using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>
/// A resumable training checkpoint: a folder holding <c>model.safetensors</c> (this library's format,
/// loadable on its own), <c>optimizer.bin</c>, <c>ema.safetensors</c> (when EMA is on), <c>state.json</c>
/// and <c>metrics.csv</c> (the finished epochs, when given). A new checkpoint is written beside the old one
/// and swapped in only when complete, so an interrupted write never leaves a broken checkpoint behind, and a
/// failed write (a full disk) removes what it had written.
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>File name of the weights inside a checkpoint folder.</summary>
    public const string ModelFile = "model.safetensors";

    private const string OptimizerFile = "optimizer.bin";
    private const string EmaFile = "ema.safetensors";
    private const string StateFile = "state.json";
    private const string MetricsFile = "metrics.csv";
    private const string StagingSuffix = ".writing";
    private const string PreviousSuffix = ".previous";

    /// <summary>Writes a checkpoint folder atomically.</summary>
    /// <param name="folder">The checkpoint folder to create or replace.</param>
    /// <param name="model">The network whose weights are saved.</param>
    /// <param name="metadata">Recorded with the weights in <c>model.safetensors</c>.</param>
    /// <param name="optimizer">The optimizer whose state is saved.</param>
    /// <param name="ema">The EMA weights, or null without EMA.</param>
    /// <param name="state">Where the run stands.</param>
    /// <param name="epochs">The run's finished epochs, saved as <c>metrics.csv</c> so that the checkpoint alone tells the run's history; null saves none.</param>
    internal static void Save(string folder, EfficientVit model, CheckpointMetadata metadata, OptimizerHelper optimizer,
        IReadOnlyDictionary<string, Tensor>? ema, TrainingState state, IReadOnlyList<EpochSummary>? epochs = null) =>
        Save(folder, model, metadata, optimizer, ema, state, epochs, afterFileWritten: null);

    // afterFileWritten lets tests fail a write half-way, as a full disk would.
    internal static void Save(string folder, EfficientVit model, CheckpointMetadata metadata, OptimizerHelper optimizer,
        IReadOnlyDictionary<string, Tensor>? ema, TrainingState state, IReadOnlyList<EpochSummary>? epochs, Action<string>? afterFileWritten)
    {
        WriteStaged(folder, staging =>
        {
            EfficientVitCheckpoint.Save(model, Path.Combine(staging, ModelFile), metadata);
            afterFileWritten?.Invoke(ModelFile);
            using (var stream = File.Create(Path.Combine(staging, OptimizerFile)))
            using (var writer = new BinaryWriter(stream))
            {
                optimizer.save_state_dict(writer);
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }
            afterFileWritten?.Invoke(OptimizerFile);
            if (ema is not null)
            {
                SafeTensorsFile.Write(Path.Combine(staging, EmaFile), ema);
                afterFileWritten?.Invoke(EmaFile);
            }
            if (epochs is not null)
            {
                File.WriteAllText(Path.Combine(staging, MetricsFile), MetricsCsv.Format(epochs));
                afterFileWritten?.Invoke(MetricsFile);
            }
            // The state is written last: a folder with a state file is complete.
            File.WriteAllText(Path.Combine(staging, StateFile), state.ToJson());
            afterFileWritten?.Invoke(StateFile);
        });
    }

    /// <summary>Whether <paramref name="folder"/> (or the copy kept during a swap) holds a checkpoint.</summary>
    public static bool Exists(string folder) => Locate(folder) is not null;

    /// <summary>
    /// Restores the model's weights, the optimizer's state and the EMA (if <paramref name="ema"/> is given)
    /// from a checkpoint folder, and returns where the run stood.
    /// </summary>
    internal static TrainingState Load(string folder, EfficientVit model, OptimizerHelper optimizer, ModelEma? ema)
    {
        var location = Locate(folder) ?? throw new CheckpointException($"{folder}: no training checkpoint found (expected {StateFile} and {ModelFile}).");
        EfficientVitCheckpoint.LoadInto(model, Path.Combine(location, ModelFile));
        var optimizerPath = Path.Combine(location, OptimizerFile);
        try
        {
            using var stream = File.OpenRead(optimizerPath);
            using var reader = new BinaryReader(stream);
            optimizer.load_state_dict(reader);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or ArgumentException or InvalidOperationException or FormatException)
        {
            throw new CheckpointException($"{optimizerPath}: the optimizer state cannot be read, the file is truncated or corrupt ({e.Message}).", e);
        }
        var emaPath = Path.Combine(location, EmaFile);
        if (ema is not null)
        {
            if (!File.Exists(emaPath))
                throw new CheckpointException($"{location}: the run uses EMA but the checkpoint has no {EmaFile}.");
            var (tensors, _) = SafeTensorsFile.Read(emaPath);
            try
            {
                // The EMA becomes the weights evaluated and saved as best: NaN there would make every later output NaN.
                StateDictLoader.CheckFinite(tensors, emaPath);
                ema.Load(tensors);
            }
            finally
            {
                foreach (var tensor in tensors.Values)
                    tensor.Dispose();
            }
        }
        return ReadState(location)!;
    }

    /// <summary>Where the run of the checkpoint in <paramref name="folder"/> stood, or null when there is none.</summary>
    internal static TrainingState? ReadState(string folder)
    {
        if (Locate(folder) is not { } location)
            return null;
        var statePath = Path.Combine(location, StateFile);
        return TrainingState.FromJson(File.ReadAllText(statePath), statePath);
    }

    /// <summary>
    /// The record saved with the checkpoint's weights in <paramref name="folder"/>, read from the file's header (not its
    /// tensors); null when there is no checkpoint or its weights carry no record.
    /// </summary>
    internal static CheckpointMetadata? ReadMetadata(string folder)
    {
        if (Locate(folder) is not { } location)
            return null;
        var modelPath = Path.Combine(location, ModelFile);
        return SafeTensorsFile.ReadMetadata(modelPath).TryGetValue(CheckpointMetadata.SafeTensorsKey, out var json)
            ? CheckpointMetadata.FromJson(json, modelPath)
            : null;
    }

    /// <summary>Which of a checkpoint's state and weights <paramref name="folder"/> holds, in words: "has state.json but no model.safetensors".</summary>
    internal static string Contents(string folder)
    {
        string[] files = [StateFile, ModelFile];
        var present = files.Where(file => File.Exists(Path.Combine(folder, file))).ToArray();
        var absent = files.Except(present).ToArray();
        return present.Length == 0 ? $"has neither {StateFile} nor {ModelFile}" : $"has {string.Join(" and ", present)} but no {string.Join(" or ", absent)}";
    }

    /// <summary>The finished epochs saved with the checkpoint, or null when it has none (checkpoints of earlier versions).</summary>
    internal static List<EpochSummary>? ReadEpochs(string folder) =>
        Locate(folder) is { } location ? MetricsCsv.Read(Path.Combine(location, MetricsFile)) : null;

    /// <summary>Replaces <paramref name="target"/> with a copy of the checkpoint in <paramref name="source"/>, atomically.</summary>
    internal static void Copy(string source, string target, Action<string>? afterFileWritten = null)
    {
        var location = Locate(source) ?? throw new CheckpointException($"{source}: no training checkpoint found (expected {StateFile} and {ModelFile}).");
        WriteStaged(target, staging =>
        {
            // The state file last, as Save writes it: a folder with a state file is complete.
            foreach (var file in Directory.GetFiles(location).OrderBy(f => Path.GetFileName(f) == StateFile))
            {
                File.Copy(file, Path.Combine(staging, Path.GetFileName(file)));
                afterFileWritten?.Invoke(Path.GetFileName(file));
            }
        });
    }

    /// <summary>
    /// Finishes or undoes what a killed process left of a write to <paramref name="folder"/>: a staging folder
    /// is deleted (its checkpoint was never swapped in), and a checkpoint moved aside for a swap is put back.
    /// </summary>
    internal static void Recover(string folder)
    {
        var full = Path.GetFullPath(folder);
        DeleteIfExists(full + StagingSuffix);
        var previous = full + PreviousSuffix;
        if (!Directory.Exists(previous))
            return;
        if (Directory.Exists(full))
            Directory.Delete(previous, recursive: true);
        else
            Directory.Move(previous, full);
    }

    // Fills a staging folder beside the target and swaps it in; a failure deletes the staging folder, so that
    // a full disk is not kept full by a partial checkpoint.
    private static void WriteStaged(string folder, Action<string> write)
    {
        var full = Path.GetFullPath(folder);
        var staging = full + StagingSuffix;
        var previous = full + PreviousSuffix;
        DeleteIfExists(staging);
        try
        {
            Directory.CreateDirectory(staging);
            write(staging);
        }
        catch
        {
            TryDelete(staging);
            throw;
        }

        DeleteIfExists(previous);
        if (Directory.Exists(full))
            Directory.Move(full, previous);
        Directory.Move(staging, full);
        DeleteIfExists(previous);
    }

    private static void DeleteIfExists(string folder)
    {
        if (Directory.Exists(folder))
            Directory.Delete(folder, recursive: true);
    }

    private static void TryDelete(string folder)
    {
        try
        {
            DeleteIfExists(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the write's own error is the one worth reporting; Recover deletes it later.
        }
    }

    // A crash between the two renames of a swap leaves the complete old checkpoint under ".previous".
    private static string? Locate(string folder)
    {
        foreach (var candidate in new[] { folder, Path.GetFullPath(folder) + PreviousSuffix })
        {
            if (File.Exists(Path.Combine(candidate, StateFile)) && File.Exists(Path.Combine(candidate, ModelFile)))
                return candidate;
        }
        return null;
    }
}
