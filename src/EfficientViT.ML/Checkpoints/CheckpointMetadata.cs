using System.Text.Json;
using System.Text.Json.Serialization;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Preprocessing;

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

    /// <summary>Input side in pixels: the side the model was built, trained or resampled at (its preprocessing's <see cref="ImagePreprocessing.ImageSize"/>).</summary>
    public int ImageSize
    {
        get => Preprocessing.ImageSize;
        init => Preprocessing = Preprocessing with { ImageSize = value };
    }

    /// <summary>
    /// The input size the weights were trained at, when the model was loaded at another
    /// (<see cref="CheckpointLoadOptions.ImageSize"/>, attention bias tables resampled); null otherwise.
    /// </summary>
    public int? TrainedImageSize { get; init; }

    /// <summary>Classifier outputs (0: backbone only).</summary>
    public int NumClasses { get; init; }

    /// <summary>Whether the checkpoint has the distillation head.</summary>
    public bool Distillation { get; init; }

    /// <summary>Class names in output order, when known.</summary>
    public string[]? ClassNames { get; init; }

    /// <summary>How images become this model's input (ImageNet's for the official and timm weights).</summary>
    [JsonIgnore]
    public ImagePreprocessing Preprocessing { get; init; } = ImagePreprocessing.ImageNet();

    // The JSON layout of format version 1 keeps the preprocessing fields at the top level.
    [JsonInclude]
    private float[] Mean
    {
        get => Preprocessing.Mean;
        init => Preprocessing = Preprocessing with { Mean = value };
    }

    [JsonInclude]
    private float[] Std
    {
        get => Preprocessing.Std;
        init => Preprocessing = Preprocessing with { Std = value };
    }

    [JsonInclude]
    private double CropPercent
    {
        get => Preprocessing.CropPercent;
        init => Preprocessing = Preprocessing with { CropPercent = value };
    }

    [JsonInclude]
    private bool Grayscale
    {
        get => Preprocessing.Grayscale;
        init => Preprocessing = Preprocessing with { Grayscale = value };
    }

    // "bicubic" or "bilinear"; absent in records written before the field, which read as null (see ImagePreprocessing.Interpolation).
    [JsonInclude]
    private string? Interpolation
    {
        get => Preprocessing.Interpolation?.ToString().ToLowerInvariant();
        init
        {
            unknownInterpolation = value is null or "bicubic" or "bilinear" ? null : value;
            Preprocessing = Preprocessing with { Interpolation = value == "bilinear" ? ImageInterpolation.Bilinear : value is null ? null : ImageInterpolation.Bicubic };
        }
    }

    // A name read from a file that is no interpolation, reported by Problem().
    private readonly string? unknownInterpolation;

    /// <summary>How the weights were made (recipe, data, epochs, accuracy), free-form.</summary>
    public Dictionary<string, string> Training { get; init; } = new();

    /// <summary>The ImageNet preprocessing of the official and timm weights.</summary>
    public static CheckpointMetadata ForImageNet(EfficientVitConfig config, string source) =>
        FromConfig(config) with { Training = new() { ["source"] = source, ["dataset"] = "ImageNet-1k" } };

    /// <summary>Metadata describing <paramref name="config"/> with ImageNet normalization.</summary>
    public static CheckpointMetadata FromConfig(EfficientVitConfig config) => new CheckpointMetadata().WithArchitecture(config);

    /// <summary>
    /// This record with what a model trained on <paramref name="classNames"/> with <paramref name="preprocessing"/>
    /// needs at inference: the class names, and the preprocessing at the model's input size.
    /// </summary>
    /// <param name="preprocessing">The preprocessing of the training run (its evaluation transform's).</param>
    /// <param name="classNames">The training data's class names, in label order.</param>
    public CheckpointMetadata WithPreprocessing(ImagePreprocessing preprocessing, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(preprocessing);
        ArgumentNullException.ThrowIfNull(classNames);
        return this with { ClassNames = classNames.ToArray(), Preprocessing = preprocessing.WithImageSize(ImageSize) };
    }

    /// <summary>This record with the architecture fields (variant, widths, depths, heads, kernels, size, classes, distillation) of <paramref name="config"/>.</summary>
    public CheckpointMetadata WithArchitecture(EfficientVitConfig config) => this with
    {
        Variant = config.VariantName,
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
            if (!RecordsInterpolation(json))
                metadata = metadata with { Preprocessing = metadata.Preprocessing with { Interpolation = null } };
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

    // Whether the record names its interpolation: earlier versions wrote none, and their files keep what they were made with.
    private static bool RecordsInterpolation(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("interpolation", out var value)
            && value.ValueKind != JsonValueKind.Null;
    }

    // The model and the featurizer allocate by the input size, so a record may not ask for an absurd one.
    private const int MaxImageSize = EfficientVitConfig.MaxImageSize;

    // What the featurizer, eval and info read from a loaded record, checked here so that a bad file is named when it is
    // loaded rather than failing later without its name. The architecture fields are not checked: they are
    // replaced by what the tensors hold.
    private string? Problem()
    {
        if (ImageSize is <= 0 or > MaxImageSize)
            return $"'image_size' is {ImageSize}, outside 1 to {MaxImageSize}";
        if (unknownInterpolation is not null)
            return $"'interpolation' is '{unknownInterpolation}'; expected 'bicubic' or 'bilinear'";
        try
        {
            Preprocessing.Validate();
        }
        catch (ArgumentException e)
        {
            return e.Message.TrimEnd('.');
        }
        if (ClassNames is { } names && names.Any(n => n is null))
            return "'class_names' holds a null";
        if (Training is null || Training.Values.Any(v => v is null))
            return "'training' must be an object of strings";
        return null;
    }

    private static readonly JsonSerializerOptions SerializerOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
