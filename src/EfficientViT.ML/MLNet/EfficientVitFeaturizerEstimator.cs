using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Checkpoints.Pretrained;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Preprocessing;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Turns images into EfficientViT's pooled feature vectors (192 to 384 floats). Created by
/// <see cref="EfficientVitCatalog.EfficientVitFeaturize(TransformsCatalog, EfficientVitFeaturizerOptions)"/>.
/// </summary>
/// <remarks>
/// The fitted model is built from ML.NET's own components — <c>ResizeImages</c>, <c>ExtractPixels</c>,
/// <c>ApplyOnnxModel</c> with the exported, BN-fused network (bicubic resize, center crop and
/// normalization inside the graph), <c>CopyColumns</c> and <c>DropColumns</c> — so
/// <c>mlContext.Model.Save</c> stores the network inside the model zip and a process without this
/// library loads it. While the fitted transformer is in memory, <c>Transform</c> scores rows in
/// batches, which ML.NET's ONNX scoring (one row at a time) cannot, and resamples images in managed
/// code to exactly the pixels the graph's resize computes.
/// </remarks>
public sealed class EfficientVitFeaturizerEstimator : IEstimator<EfficientVitFeaturizerTransformer>
{
    private readonly TransformsCatalog catalog;
    private readonly EfficientVitFeaturizerOptions options;
    private readonly ImagePreprocessing preprocessing;
    private readonly ScoringColumnNames names = ScoringColumnNames.Unique();
    private readonly FeaturizerGraphs graphs;
    private readonly OnnxDevice device;
    // One plan per input kind, made when a column of that kind is first seen.
    private readonly Dictionary<FeaturizerInputKind, FeaturizerPlan> plans = [];

    internal EfficientVitFeaturizerEstimator(TransformsCatalog catalog, EfficientVitFeaturizerOptions options)
    {
        this.catalog = catalog;
        this.options = options = options.Copy();
        if (string.IsNullOrWhiteSpace(options.OutputColumnName) || string.IsNullOrWhiteSpace(options.InputColumnName))
            throw new ArgumentException("EfficientVitFeaturize: OutputColumnName and InputColumnName must be set.", nameof(options));
        if (options.BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "EfficientVitFeaturize: BatchSize must be at least 1.");
        if ((options.ModelPath is null) == (options.Model is null))
            throw new ArgumentException("EfficientVitFeaturize: set exactly one of ModelPath and Model.", nameof(options));
        if (options.Quantization == EfficientVitQuantization.Int8 && options.CalibrationData is null)
            throw new ArgumentException("EfficientVitFeaturize: Quantization Int8 needs CalibrationData: a few hundred of your images to measure the int8 activation ranges on.", nameof(options));
        if (options.Quantization == EfficientVitQuantization.None && options.CalibrationData is not null)
            throw new ArgumentException("EfficientVitFeaturize: CalibrationData is set but Quantization is None; set Quantization to Int8 or leave CalibrationData null.", nameof(options));
        Int8QualityOptions.Check(options.Int8Quality, "EfficientVitFeaturize", options.Quantization == EfficientVitQuantization.Int8);

        if (options.ImageSize is { } requested && options.Preprocessing is { } given && given.ImageSize != requested)
            throw new ArgumentException($"EfficientVitFeaturize: ImageSize is {requested}, but the Preprocessing is for {given.ImageSize}x{given.ImageSize} images; set one of them.", nameof(options));
        CheckImageSize(options.ImageSize, "ImageSize");
        CheckImageSize(options.Preprocessing?.ImageSize, "Preprocessing.ImageSize");
        // Checked before the model is read: a device that cannot be used fails here, naming it.
        device = OnnxDevice.Resolve(options.GpuDeviceId, options.FallbackToCpu, CatalogEnvironment.Of(catalog)).Usable();
        var (model, metadata, owned) = LoadModel(options, options.ImageSize ?? options.Preprocessing?.ImageSize);
        // Said in the MLContext's log (a warning, as ML.NET's components report doubtful input): the features are
        // still computed, and a user fine-tuning at the new size downstream wants them.
        if (metadata.TrainedImageSize is { } trainedSize && trainedSize != model.Config.ImageSize
            && ImageSizeTransfer.UntrainedWeightsWarning(model.Config with { ImageSize = trainedSize }, model.Config.ImageSize) is { } warning)
        {
            using var channel = CatalogEnvironment.Of(catalog).Register(nameof(EfficientVitFeaturizerEstimator)).Start("Model");
            channel.Warning(MessageSensitivity.None, $"EfficientVitFeaturize: the model was {warning}");
        }
        try
        {
            preprocessing = options.Preprocessing ?? metadata.Preprocessing.WithImageSize(model.Config.ImageSize);
            try
            {
                preprocessing.Validate();
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"EfficientVitFeaturize: Preprocessing: {e.Message}", nameof(options), e);
            }
            if (preprocessing.ImageSize != model.Config.ImageSize)
                throw new ArgumentException($"EfficientVitFeaturize: the preprocessing produces {preprocessing.ImageSize}x{preprocessing.ImageSize} images, but the model takes {model.Config.ImageSize}x{model.Config.ImageSize}.", nameof(options));
            FeatureSize = model.Config.FeatureDim;
            graphs = new FeaturizerGraphs(new FeatureNetwork(model), preprocessing, names, options.InputColumnName);
        }
        finally
        {
            if (owned)
                model.Dispose();
        }
    }

    /// <summary>Length of the output vectors.</summary>
    public int FeatureSize { get; }

    /// <summary>Checks the input column and describes the output columns.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) =>
        PlanFor(FeaturizerInput.Classify(inputSchema, options.InputColumnName, preprocessing.ImageSize)).GetOutputSchema(inputSchema);

    /// <summary>Checks the input column and builds the featurizer.</summary>
    public EfficientVitFeaturizerTransformer Fit(IDataView input) =>
        PlanFor(FeaturizerInput.Classify(input.Schema, options.InputColumnName, preprocessing.ImageSize)).Fit(input);

    private FeaturizerPlan PlanFor(FeaturizerInputKind kind)
    {
        lock (plans)
        {
            if (!plans.TryGetValue(kind, out var plan))
                plans[kind] = plan = new FeaturizerPlan(kind, graphs, names, preprocessing, options, catalog, device);
            return plan;
        }
    }

    private static void CheckImageSize(int? size, string option)
    {
        if (size is { } side && !(EfficientVitConfig.IsResizableImageSize(side) && side <= EfficientVitConfig.MaxImageSize))
            throw new ArgumentOutOfRangeException("options", side,
                $"EfficientVitFeaturize: {option} must be a multiple of 16 (the patch embedding's stride) from 32 to {EfficientVitConfig.MaxImageSize}; found {side}.");
    }

    // The model at the requested size: loaded there, or an in-memory model's copy with its tables resampled.
    private static (EfficientVit Model, CheckpointMetadata Metadata, bool Owned) LoadModel(EfficientVitFeaturizerOptions options, int? imageSize)
    {
        if (options.Model is { } model)
        {
            if (model.IsFused)
                throw new ArgumentException("EfficientVitFeaturize: pass the unfused model; the featurizer fuses BatchNorm in its exported graph.", nameof(options));
            if (imageSize is { } size && size != model.Config.ImageSize)
            {
                var resized = model.WithImageSize(size, options.BiasResampling);
                return (resized, CheckpointMetadata.FromConfig(resized.Config) with { TrainedImageSize = model.Config.ImageSize }, true);
            }
            return (model, CheckpointMetadata.FromConfig(model.Config), false);
        }
        var loaded = EfficientVitCheckpoint.Load(EfficientVitPretrained.Resolve(options.ModelPath!), new CheckpointLoadOptions { ImageSize = imageSize, BiasResampling = options.BiasResampling });
        return (loaded.Model, loaded.Metadata, true);
    }
}
