using System.Text.Json;
using System.Text.Json.Serialization;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;

namespace EfficientViT.ML.Checkpoints;

/// <summary>
/// What a checkpoint written by this project records besides its weights, so that nothing has to be
/// passed twice: the architecture, the classes, and the preprocessing the weights were trained with.
/// </summary>
public sealed record CheckpointMetadata
{
    /// <summary>The metadata key under which the record is stored in a safetensors file.</summary>
    public const string SafeTensorsKey = "efficientvit";

    /// <summary>Version of this record's layout.</summary>
    public int FormatVersion { get; init; } = 1;

    /// <summary>Variant name (M0..M5), or "custom".</summary>
    public string Variant { get; init; } = "custom";

    /// <summary>Channels of the three stages.</summary>
    public int[] EmbedDims { get; init; } = [];

    /// <summary>Attention blocks per stage.</summary>
    public int[] Depths { get; init; } = [];

    /// <summary>Attention heads per stage.</summary>
    public int[] NumHeads { get; init; } = [];

    /// <summary>Query depthwise kernels per head.</summary>
    public int[] Kernels { get; init; } = [];

    /// <summary>Input side in pixels.</summary>
    public int ImageSize { get; init; } = 224;

    /// <summary>Classifier outputs (0: backbone only).</summary>
    public int NumClasses { get; init; }

    /// <summary>Whether the checkpoint has the distillation head.</summary>
    public bool Distillation { get; init; }

    /// <summary>Class names in output order, when known.</summary>
    public string[]? ClassNames { get; init; }

    /// <summary>Per-channel (RGB) mean subtracted from pixel/255.</summary>
    public float[] Mean { get; init; } = [0.485f, 0.456f, 0.406f];

    /// <summary>Per-channel (RGB) standard deviation dividing pixel/255 − mean.</summary>
    public float[] Std { get; init; } = [0.229f, 0.224f, 0.225f];

    /// <summary>Fraction of the resized image kept by the evaluation center crop (0.875: resize to 256, crop 224).</summary>
    public double CropPercent { get; init; } = 0.875;

    /// <summary>Whether the images were grayscale replicated to three channels (e.g. Fashion-MNIST).</summary>
    public bool Grayscale { get; init; }

    /// <summary>How the weights were made (recipe, data, epochs, accuracy), free-form.</summary>
    public Dictionary<string, string> Training { get; init; } = new();

    /// <summary>The ImageNet preprocessing of the official and timm weights.</summary>
    public static CheckpointMetadata ForImageNet(EfficientVitConfig config, string source) =>
        FromConfig(config) with { Training = new() { ["source"] = source, ["dataset"] = "ImageNet-1k" } };

    /// <summary>Metadata describing <paramref name="config"/> with ImageNet normalization.</summary>
    public static CheckpointMetadata FromConfig(EfficientVitConfig config) => new CheckpointMetadata().WithArchitecture(config);

    /// <summary>
    /// This record with what a model trained with <paramref name="evalTransform"/> needs at inference: class
    /// names, mean and std, the centre-crop fraction, and whether images are turned to grayscale first.
    /// </summary>
    /// <param name="evalTransform">The evaluation transform of the training run.</param>
    /// <param name="classNames">The training data's class names, in label order.</param>
    /// <param name="grayscale">True when the training images were grayscale (e.g. Fashion-MNIST).</param>
    public CheckpointMetadata WithPreprocessing(ImageTransform evalTransform, IReadOnlyList<string> classNames, bool grayscale)
    {
        ArgumentNullException.ThrowIfNull(evalTransform);
        ArgumentNullException.ThrowIfNull(classNames);
        return this with
        {
            ClassNames = classNames.ToArray(),
            Mean = evalTransform.Mean,
            Std = evalTransform.Std,
            CropPercent = evalTransform.CropPercent,
            Grayscale = grayscale,
        };
    }

    /// <summary>This record with the architecture fields (variant, widths, depths, heads, kernels, size, classes, distillation) of <paramref name="config"/>.</summary>
    public CheckpointMetadata WithArchitecture(EfficientVitConfig config) => this with
    {
        Variant = VariantName(config),
        EmbedDims = config.EmbedDims,
        Depths = config.Depths,
        NumHeads = config.NumHeads,
        Kernels = config.Kernels,
        ImageSize = config.ImageSize,
        NumClasses = config.NumClasses,
        Distillation = config.Distillation,
    };

    /// <summary>The architecture recorded here.</summary>
    public EfficientVitConfig ToConfig() =>
        new(EmbedDims, Depths, NumHeads, Kernels, ImageSize, NumClasses, Distillation);

    /// <summary>Serializes to JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, SerializerOptions);

    /// <summary>Parses the JSON written by <see cref="ToJson"/>; <paramref name="source"/> names the file in errors.</summary>
    public static CheckpointMetadata FromJson(string json, string source)
    {
        try
        {
            var metadata = JsonSerializer.Deserialize<CheckpointMetadata>(json, SerializerOptions)
                ?? throw new CheckpointException($"{source}: the '{SafeTensorsKey}' metadata is empty.");
            if (metadata.FormatVersion != 1)
                throw new CheckpointException($"{source}: checkpoint metadata version {metadata.FormatVersion} is newer than this library understands (1); update EfficientViT.ML.");
            if (metadata.Problem() is { } problem)
                throw new CheckpointException($"{source}: the '{SafeTensorsKey}' metadata is invalid: {problem}.");
            return metadata;
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{source}: the '{SafeTensorsKey}' metadata is not valid JSON ({e.Message}).", e);
        }
    }

    // The model and the featurizer allocate by the input size, so a record may not ask for an absurd one.
    private const int MaxImageSize = 4096;

    // What the featurizer, eval and info read from a loaded record, checked here so that a bad file is named when it is
    // loaded rather than failing later without its name. The architecture fields are not checked: they are
    // replaced by what the tensors hold.
    private string? Problem()
    {
        if (Mean is not { Length: 3 } || Mean.Any(m => !float.IsFinite(m)))
            return "'mean' needs three finite numbers (R, G, B)";
        if (Std is not { Length: 3 } || Std.Any(s => !float.IsFinite(s) || s <= 0))
            return "'std' needs three finite positive numbers (R, G, B)";
        if (!double.IsFinite(CropPercent) || CropPercent is <= 0 or > 1)
            return $"'crop_percent' is {CropPercent}, outside (0, 1]";
        if (ImageSize is <= 0 or > MaxImageSize)
            return $"'image_size' is {ImageSize}, outside 1 to {MaxImageSize}";
        if (ClassNames is { } names && names.Any(n => n is null))
            return "'class_names' holds a null";
        if (Training is null || Training.Values.Any(v => v is null))
            return "'training' must be an object of strings";
        return null;
    }

    /// <summary>"M0".."M5" when the config is a paper variant, else "custom".</summary>
    public static string VariantName(EfficientVitConfig config)
    {
        foreach (var variant in Enum.GetValues<EfficientVitVariant>())
        {
            var reference = EfficientVitConfig.For(variant);
            if (reference.EmbedDims.SequenceEqual(config.EmbedDims) && reference.Depths.SequenceEqual(config.Depths)
                && reference.NumHeads.SequenceEqual(config.NumHeads) && reference.Kernels.SequenceEqual(config.Kernels)
                && reference.KeyDim == config.KeyDim && reference.WindowSize == config.WindowSize)
                return variant.ToString();
        }
        return "custom";
    }

    private static readonly JsonSerializerOptions SerializerOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
