using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Checkpoints;

/// <summary>
/// Reads and writes EfficientViT weights: the official model zoo's <c>.pth</c> files, timm's
/// safetensors, and this project's own safetensors with metadata. The variant, classes and input size
/// are recognised from the file, and loading is strict.
/// </summary>
/// <example>
/// <code>
/// // The official ImageNet weights, reused for 10 classes:
/// using var loaded = EfficientVitCheckpoint.Load("efficientvit_m4.pth",
///     new CheckpointLoadOptions { NumClasses = 10, ExcludeHead = true });
/// // ... train loaded.Model, then keep it with its class names:
/// EfficientVitCheckpoint.Save(loaded.Model, "m4-flowers.safetensors",
///     loaded.Metadata with { ClassNames = names });
/// </code>
/// </example>
public static class EfficientVitCheckpoint
{
    /// <summary>Builds the model a checkpoint holds and loads its weights.</summary>
    /// <exception cref="CheckpointException">The file is missing, unreadable, not an EfficientViT checkpoint, or does not match the options.</exception>
    public static LoadedCheckpoint Load(string path, CheckpointLoadOptions? options = null)
    {
        options ??= new CheckpointLoadOptions();
        var (tensors, format, recorded) = ReadOfficialStateDict(path);
        try
        {
            // The architecture is read from shapes; an empty tensor's shape is not backed by any data, so it could
            // describe a network of any size. EfficientViT has no empty tensors.
            if (tensors.FirstOrDefault(kv => kv.Value.numel() == 0) is { Key: { } emptyKey, Value: { } empty })
                throw new CheckpointException($"{path}: not an EfficientViT checkpoint: tensor '{emptyKey}' is empty (shape ({string.Join(", ", empty.shape)})).");
            var shapes = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.shape);
            var detected = ArchitectureDetector.Detect(shapes, path, recorded?.ImageSize);
            var trainedSize = detected.ImageSize;
            if (options.ImageSize is { } size && size != trainedSize)
            {
                if (!EfficientVitConfig.IsResizableImageSize(size))
                    throw new CheckpointException($"{path}: ImageSize must be a multiple of 16 from 32 (the patch embedding's stride); found {size}.");
                tensors = AttentionBiasTables.Resample(tensors, detected, detected with { ImageSize = size }, options.BiasResampling);
                detected = detected with { ImageSize = size };
            }
            var detectedVariant = detected.VariantName;
            if (options.ExpectedVariant is { } expected && detectedVariant != expected.ToString())
                throw new CheckpointException($"{path}: holds EfficientViT-{detectedVariant} (embed dims [{string.Join(", ", detected.EmbedDims)}]), not the requested {expected}.");

            var config = detected;
            if (options.NumClasses is { } classes && classes != detected.NumClasses)
            {
                if (!options.ExcludeHead)
                    throw new CheckpointException($"{path}: the checkpoint has {detected.NumClasses} classes, but {classes} were requested; set ExcludeHead to load the backbone and start a new {classes}-class head.");
                config = detected with { NumClasses = classes, Distillation = classes > 0 && detected.Distillation };
            }

            // The names are kept only with the file's own head, so only then must they match it.
            if (config.NumClasses == detected.NumClasses && recorded?.ClassNames is { } names && names.Length != detected.NumClasses)
                throw new CheckpointException($"{path}: the '{CheckpointMetadata.SafeTensorsKey}' metadata is invalid: it names {names.Length} classes, but the classifier has {detected.NumClasses}.");

            // The architecture is read from tensor shapes, so a corrupt file can describe one that cannot be built.
            try
            {
                config.Validate();
            }
            catch (ArgumentException e)
            {
                throw new CheckpointException($"{path}: not an EfficientViT checkpoint: its tensor shapes describe an impossible architecture ({e.Message})", e);
            }
            var model = new EfficientVit(config);
            try
            {
                StateDictLoader.Load(model, tensors, path, options.ExcludeHead);
                model.eval();
            }
            catch
            {
                model.Dispose();
                throw;
            }

            var metadata = (recorded ?? CheckpointMetadata.ForImageNet(detected, format.ToString())).WithArchitecture(config);
            if (config.ImageSize != trainedSize)
                metadata = metadata with { TrainedImageSize = metadata.TrainedImageSize ?? trainedSize };
            if (config.NumClasses != detected.NumClasses)
                metadata = metadata with { ClassNames = null };
            return new LoadedCheckpoint(model, metadata, format);
        }
        finally
        {
            foreach (var tensor in tensors.Values)
                tensor.Dispose();
        }
    }

    /// <summary>Loads a checkpoint's weights into an existing model, strictly (optionally all but the classifier).</summary>
    public static void LoadInto(EfficientVit model, string path, bool excludeHead = false)
    {
        var (tensors, _, _) = ReadOfficialStateDict(path);
        try
        {
            StateDictLoader.Load(model, tensors, path, excludeHead);
        }
        finally
        {
            foreach (var tensor in tensors.Values)
                tensor.Dispose();
        }
    }

    /// <summary>
    /// Writes the model's weights (official names) and metadata as safetensors, atomically: an existing
    /// file is replaced only once the new one is complete.
    /// </summary>
    /// <param name="model">An unfused model.</param>
    /// <param name="path">Destination, conventionally <c>*.safetensors</c>.</param>
    /// <param name="metadata">Classes, normalization and training notes; the architecture fields are always taken from the model.</param>
    public static void Save(EfficientVit model, string path, CheckpointMetadata? metadata = null)
    {
        if (model.IsFused)
            throw new InvalidOperationException("Save the model before fusing BatchNorm: fused weights cannot be trained or reloaded into the model; export fused models to ONNX instead.");
        var record = (metadata ?? new CheckpointMetadata()).WithArchitecture(model.Config);
        if (record.ClassNames is { } names && names.Length != record.NumClasses)
            throw new ArgumentException($"{names.Length} class names were given for a model with {record.NumClasses} classes.", nameof(metadata));
        try
        {
            record.Preprocessing.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Preprocessing: {e.Message}", nameof(metadata), e);
        }

        SafeTensorsFile.Write(path, model.state_dict(), new Dictionary<string, string>
        {
            ["format"] = "efficientvit.ml",
            [CheckpointMetadata.SafeTensorsKey] = record.ToJson(),
        });
    }

    /// <summary>Recognises a file's format from its first bytes and, for safetensors, its key names.</summary>
    public static CheckpointFormat DetectFormat(string path)
    {
        var (tensors, format, _) = ReadOfficialStateDict(path);
        foreach (var tensor in tensors.Values)
            tensor.Dispose();
        return format;
    }

    /// <summary>The state dict of any supported file under the official names, its format, and its recorded metadata if any.</summary>
    internal static (Dictionary<string, Tensor> Tensors, CheckpointFormat Format, CheckpointMetadata? Metadata) ReadOfficialStateDict(string path)
    {
        if (Directory.Exists(path))
            throw new CheckpointException($"{path}: is a directory, not a checkpoint file.");
        if (!File.Exists(path))
            throw new CheckpointException($"{path}: checkpoint file not found.");

        // The content decides, not the extension: a .pth that is not a zip would otherwise be misread as safetensors.
        switch (CheckpointFileSignature.Detect(path, out var head))
        {
            case CheckpointFileKind.Empty:
                throw new CheckpointException($"{path}: not a checkpoint (empty file).");
            case CheckpointFileKind.TorchZip:
            case CheckpointFileKind.LegacyTorchPickle: // refused by the reader, with the advice to re-save
                return (TorchCheckpointReader.ReadStateDict(path), CheckpointFormat.OfficialPyTorch, null);
            case CheckpointFileKind.Unknown:
                throw new CheckpointException(CheckpointFileSignature.Unrecognised(path, head));
        }

        var (tensors, metadata) = SafeTensorsFile.Read(path);
        try
        {
            if (metadata.TryGetValue(CheckpointMetadata.SafeTensorsKey, out var json))
                return (tensors, CheckpointFormat.EfficientVitSafeTensors, CheckpointMetadata.FromJson(json, path));
            if (TimmKeyMapping.LooksLikeTimm(tensors.Keys))
                return (TimmKeyMapping.ToOfficial(tensors), CheckpointFormat.TimmSafeTensors, null);
            return (tensors, CheckpointFormat.EfficientVitSafeTensors, null);
        }
        catch
        {
            foreach (var tensor in tensors.Values)
                tensor.Dispose();
            throw;
        }
    }
}
