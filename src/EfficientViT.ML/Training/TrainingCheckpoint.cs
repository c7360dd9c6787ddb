using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>
/// A resumable training checkpoint: a folder holding <c>model.safetensors</c> (this library's format,
/// loadable on its own), <c>optimizer.bin</c>, <c>ema.safetensors</c> (when EMA is on) and
/// <c>state.json</c>. A new checkpoint is written beside the old one and swapped in only when complete,
/// so an interrupted write never leaves a broken checkpoint behind.
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>File name of the weights inside a checkpoint folder.</summary>
    public const string ModelFile = "model.safetensors";

    private const string OptimizerFile = "optimizer.bin";
    private const string EmaFile = "ema.safetensors";
    private const string StateFile = "state.json";

    /// <summary>Writes a checkpoint folder atomically.</summary>
    public static void Save(string folder, EfficientVit model, CheckpointMetadata metadata, OptimizerHelper optimizer,
        IReadOnlyDictionary<string, Tensor>? ema, TrainingState state)
    {
        var full = Path.GetFullPath(folder);
        var staging = full + ".writing";
        var previous = full + ".previous";
        if (Directory.Exists(staging))
            Directory.Delete(staging, recursive: true);
        Directory.CreateDirectory(staging);

        EfficientVitCheckpoint.Save(model, Path.Combine(staging, ModelFile), metadata);
        using (var stream = File.Create(Path.Combine(staging, OptimizerFile)))
        using (var writer = new BinaryWriter(stream))
        {
            optimizer.save_state_dict(writer);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        if (ema is not null)
            SafeTensorsFile.Write(Path.Combine(staging, EmaFile), ema);
        File.WriteAllText(Path.Combine(staging, StateFile), state.ToJson());

        if (Directory.Exists(previous))
            Directory.Delete(previous, recursive: true);
        if (Directory.Exists(full))
            Directory.Move(full, previous);
        Directory.Move(staging, full);
        if (Directory.Exists(previous))
            Directory.Delete(previous, recursive: true);
    }

    /// <summary>Whether <paramref name="folder"/> (or the copy kept during a swap) holds a checkpoint.</summary>
    public static bool Exists(string folder) => Locate(folder) is not null;

    /// <summary>
    /// Restores the model's weights, the optimizer's state and the EMA (if <paramref name="ema"/> is given)
    /// from a checkpoint folder, and returns where the run stood.
    /// </summary>
    public static TrainingState Load(string folder, EfficientVit model, OptimizerHelper optimizer, ModelEma? ema)
    {
        var location = Locate(folder) ?? throw new CheckpointException($"{folder}: no training checkpoint found (expected {StateFile} and {ModelFile}).");
        EfficientVitCheckpoint.LoadInto(model, Path.Combine(location, ModelFile));
        using (var stream = File.OpenRead(Path.Combine(location, OptimizerFile)))
        using (var reader = new BinaryReader(stream))
            optimizer.load_state_dict(reader);
        var emaPath = Path.Combine(location, EmaFile);
        if (ema is not null)
        {
            if (!File.Exists(emaPath))
                throw new CheckpointException($"{location}: the run uses EMA but the checkpoint has no {EmaFile}.");
            var (tensors, _) = SafeTensorsFile.Read(emaPath);
            ema.Load(tensors);
            foreach (var tensor in tensors.Values)
                tensor.Dispose();
        }
        var statePath = Path.Combine(location, StateFile);
        return TrainingState.FromJson(File.ReadAllText(statePath), statePath);
    }

    // A crash between the two renames of Save leaves the complete old checkpoint under ".previous".
    private static string? Locate(string folder)
    {
        foreach (var candidate in new[] { folder, Path.GetFullPath(folder) + ".previous" })
        {
            if (File.Exists(Path.Combine(candidate, StateFile)) && File.Exists(Path.Combine(candidate, ModelFile)))
                return candidate;
        }
        return null;
    }
}
