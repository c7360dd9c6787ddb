using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Preprocessing;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace EfficientViT.ML.Featurization;

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
    // Each input kind has two graphs: a batched one and a one-row one, without the batch axis, for
    // ML.NET's ApplyOnnxModel (its columns then get plain vector types). In memory, images are resampled
    // and centred in managed code and scored by a third graph that only scales.
    private readonly byte[] imageGraph;
    private readonly byte[] imageRowGraph;
    private readonly byte[] resampledImageGraph;
    private readonly byte[] pixelGraph;
    private readonly byte[] pixelRowGraph;
    private readonly ColumnNames names;
    // The TorchSharp engine's own copy of the weights, so that it does not depend on the caller's model staying alive.
    private readonly EfficientVit? torchModel;

    internal EfficientVitFeaturizerEstimator(TransformsCatalog catalog, EfficientVitFeaturizerOptions options)
    {
        this.catalog = catalog;
        this.options = options;
        if (string.IsNullOrWhiteSpace(options.OutputColumnName) || string.IsNullOrWhiteSpace(options.InputColumnName))
            throw new ArgumentException("EfficientVitFeaturize: OutputColumnName and InputColumnName must be set.", nameof(options));
        if (options.BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "EfficientVitFeaturize: BatchSize must be at least 1.");
        if ((options.ModelPath is null) == (options.Model is null))
            throw new ArgumentException("EfficientVitFeaturize: set exactly one of ModelPath and Model.", nameof(options));

        names = ColumnNames.For(options.OutputColumnName);
        var (model, metadata, owned) = LoadModel(options);
        try
        {
            preprocessing = options.Preprocessing ?? metadata.Preprocessing;
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
            var imageOptions = preprocessing.GraphOptions(names.Pixels);
            imageOptions.FeaturesOutputName = names.Features;
            imageOptions.IncludeLogits = false;
            imageGraph = EfficientVitOnnxExporter.ToBytes(model, imageOptions);
            imageOptions.DropBatchAxis = true;
            imageRowGraph = EfficientVitOnnxExporter.ToBytes(model, imageOptions);
            imageOptions.DropBatchAxis = false;
            imageOptions.ResizeInGraph = false;
            imageOptions.InputCentered = true;
            resampledImageGraph = EfficientVitOnnxExporter.ToBytes(model, imageOptions);
            var pixelOptions = new OnnxExportOptions { InputName = options.InputColumnName, FeaturesOutputName = names.Features, IncludeLogits = false };
            pixelGraph = EfficientVitOnnxExporter.ToBytes(model, pixelOptions);
            pixelOptions.DropBatchAxis = true;
            pixelRowGraph = EfficientVitOnnxExporter.ToBytes(model, pixelOptions);
            if (options.Engine == FeaturizerEngine.TorchSharp)
            {
                torchModel = new EfficientVit(model.Config);
                torchModel.load_state_dict(model.state_dict());
                torchModel.eval();
            }
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
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var kind = FeaturizerInput.Classify(inputSchema, options.InputColumnName, preprocessing.ImageSize);
        return BuildChain(kind).GetOutputSchema(inputSchema);
    }

    /// <summary>Checks the input column and builds the featurizer.</summary>
    public EfficientVitFeaturizerTransformer Fit(IDataView input)
    {
        var kind = FeaturizerInput.Classify(input.Schema, options.InputColumnName, preprocessing.ImageSize);
        var chain = BuildChain(kind).Fit(input);
        var fromImages = kind != FeaturizerInputKind.PixelVector;
        // In memory, ML.NET runs the steps up to ResizeImages; the managed upsampler replaces ExtractPixels and the graph's resize.
        var preprocessingSteps = fromImages ? 1 + (preprocessing.Grayscale ? 1 : 0) + (kind == FeaturizerInputKind.EncodedImage ? 2 : 0) : 0;
        ModelInput modelInput = fromImages
            ? new ImageInput(names.Resized, options.InputColumnName, new BicubicUpsampler(preprocessing.ImageSize, preprocessing.ResizeSize, preprocessing.PixelMean))
            : new PixelVectorInput(options.InputColumnName, options.InputColumnName, preprocessing.ImageSize);
        var scoredGraph = fromImages ? resampledImageGraph : pixelGraph;
        var inputName = fromImages ? names.Pixels : options.InputColumnName;
        Func<IFeatureScorer> createScorer = torchModel is null
            ? () => new OnnxFeatureSession(scoredGraph, inputName, names.Features, options.Threads)
            : () =>
            {
                if (options.Threads is { } threads)
                    TorchSharp.torch.set_num_threads(threads);
                return new TorchSharpFeatureScorer(torchModel, fromImages ? preprocessing : null);
            };
        return new EfficientVitFeaturizerTransformer(catalog, chain, preprocessingSteps, modelInput, fromImages ? imageGraph : pixelGraph, names, options, createScorer);
    }

    private EstimatorChain<ITransformer> BuildChain(FeaturizerInputKind kind)
    {
        var chain = new EstimatorChain<ITransformer>();
        string onnxInput = options.InputColumnName;
        var temporary = new List<string>();
        if (kind != FeaturizerInputKind.PixelVector)
        {
            var source = options.InputColumnName;
            if (kind == FeaturizerInputKind.EncodedImage)
            {
                var decoder = new EncodedImageDecoder();
                chain = chain
                    .Append<ITransformer>(catalog.CopyColumns(EncodedImageDecoder.EncodedColumnName, source))
                    .Append<ITransformer>(catalog.CustomMapping(decoder.GetMapping(), EncodedImageDecoder.ContractName));
                source = EncodedImageDecoder.DecodedColumnName;
                temporary.Add(EncodedImageDecoder.EncodedColumnName);
                temporary.Add(EncodedImageDecoder.DecodedColumnName);
            }
            if (preprocessing.Grayscale)
            {
                chain = chain.Append<ITransformer>(catalog.ConvertToGrayscale(names.Grayscale, source));
                source = names.Grayscale;
                temporary.Add(names.Grayscale);
            }
            chain = chain.AppendResizeAndExtract(preprocessing, catalog, source, names.Resized, names.Pixels);
            temporary.Add(names.Resized);
            temporary.Add(names.Pixels);
            onnxInput = names.Pixels;
        }
        var graph = kind == FeaturizerInputKind.PixelVector ? pixelRowGraph : imageRowGraph;
        temporary.Add(names.Features);
        return chain
            .Append<ITransformer>(catalog.ApplyOnnxModel([names.Features], [onnxInput], new MemoryStream(graph, writable: false)))
            .Append<ITransformer>(catalog.CopyColumns(options.OutputColumnName, names.Features))
            .Append<ITransformer>(catalog.DropColumns(temporary.ToArray()));
    }

    private static (EfficientVit Model, CheckpointMetadata Metadata, bool Owned) LoadModel(EfficientVitFeaturizerOptions options)
    {
        if (options.Model is { } model)
        {
            if (model.IsFused)
                throw new ArgumentException("EfficientVitFeaturize: pass the unfused model; the featurizer fuses BatchNorm in its exported graph.", nameof(options));
            return (model, CheckpointMetadata.FromConfig(model.Config), false);
        }
        var loaded = EfficientVitCheckpoint.Load(options.ModelPath!);
        return (loaded.Model, loaded.Metadata, true);
    }

    /// <summary>Names of the intermediate columns, unique per featurizer so that several can share a pipeline.</summary>
    internal sealed record ColumnNames(string Grayscale, string Resized, string Pixels, string Features)
    {
        public static ColumnNames For(string output)
        {
            var id = Guid.NewGuid().ToString("N")[..8];
            var prefix = $"EfficientVit_{id}_";
            return new ColumnNames(prefix + "Grayscale", prefix + "Resized", prefix + "Pixels", prefix + "Features");
        }
    }
}
