using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Preprocessing;
using EfficientViT.ML.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Image;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Fine-tunes or trains EfficientViT on an ML.NET data view of images and key labels; created by
/// <see cref="EfficientVitClassifierCatalog.EfficientVit(MulticlassClassificationCatalog.MulticlassClassificationTrainers, string, string, EfficientVitClassifierOptions?)"/>.
/// </summary>
/// <remarks>
/// <c>Fit</c> reads every image into memory, trains with the library's trainer (the official recipe
/// scaled for small data), exports the BN-fused classifier to ONNX, and returns a chain of ML.NET
/// components — <c>ResizeImages</c>, <c>ExtractPixels</c>, <c>ApplyOnnxModel</c> (probabilities and the
/// predicted class name), <c>CopyColumns</c>, <c>MapValueToKey</c> (onto the label's keys) — so the model
/// saves into and loads from an ML.NET zip without this library.
/// </remarks>
public sealed class EfficientVitClassifierTrainer : IEstimator<EfficientVitClassifierTransformer>
{
    private const string Component = "EfficientVit trainer";
    private readonly EfficientVitClassifierOptions options;
    private readonly IHost host;
    private readonly TransformsCatalog transforms;
    // The MLContext's GpuDeviceId and FallbackToCpu, for the trained model's ONNX Runtime sessions.
    private readonly OnnxDevice device;

    internal EfficientVitClassifierTrainer(EfficientVitClassifierOptions options, IHostEnvironment environment)
    {
        options = options.Copy();
        try
        {
            SetupOptions(options).Validate();
            TrainerOptions(options).Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"EfficientVit trainer: {e.Message}");
        }
        if (!(options.MinCropScale is > 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(options), $"EfficientVit trainer: MinCropScale must be in (0, 1]; found {options.MinCropScale}.");
        if (!(options.RandomErasing is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(options), $"EfficientVit trainer: RandomErasing must be in [0, 1]; found {options.RandomErasing}.");
        if (options.Quantization == EfficientVitQuantization.Int8 && options.CalibrationData is null)
            throw new ArgumentOutOfRangeException(nameof(options), "EfficientVit trainer: Quantization Int8 needs CalibrationData: a few hundred of your images to measure the int8 activation ranges on.");
        if (options.Quantization == EfficientVitQuantization.None && options.CalibrationData is not null)
            throw new ArgumentOutOfRangeException(nameof(options), "EfficientVit trainer: CalibrationData is set but Quantization is None; set Quantization to Int8 or leave CalibrationData null.");
        Int8QualityOptions.Check(options.Int8Quality, "EfficientVit trainer", options.Quantization == EfficientVitQuantization.Int8);
        this.options = options;
        host = environment.Register(nameof(EfficientVitClassifierTrainer));
        // The chain's steps belong to the caller's MLContext, so that its log and cancellation reach them.
        transforms = CatalogEnvironment.TransformsOf(environment);
        device = OnnxDevice.Resolve(null, null, environment).Usable();
    }

    /// <summary>Checks the label and image columns and describes the columns the trained model adds.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var label = inputSchema.LastOrDefault(c => c.Name == options.LabelColumnName);
        if (label.Name is null)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"EfficientVit trainer: label column '{options.LabelColumnName}' not found.");
        if (!label.IsKey || label.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"EfficientVit trainer: label column '{options.LabelColumnName}' must be a key (use MapValueToKey first); found {label.ItemType}.");
        var image = inputSchema.LastOrDefault(c => c.Name == options.ImageColumnName);
        if (image.Name is null || image.ItemType is not ImageDataViewType)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"EfficientVit trainer: image column '{options.ImageColumnName}' must hold images (MLImage, from LoadImages); found {(image.Name is null ? "no such column" : image.ItemType.ToString())}.");

        // The output columns come from the steps of the trained model's chain, with a stand-in for
        // ApplyOnnxModel that makes the same kind of column (a float vector) without exporting a network:
        // a shape holds no vector sizes or key counts, so two classes describe any number.
        var standIn = ScoringColumnNames.Unique();
        return BuildChain(ImagePreprocessing.ImageNet(), ["0", "1"], standIn,
            builder => builder.Append(transforms.CopyColumns(standIn.Probabilities, standIn.Pixels), standIn.Probabilities)).Steps.GetOutputSchema(inputSchema);
    }

    /// <summary>Trains the network on every row of <paramref name="input"/> and returns the classifier.</summary>
    public EfficientVitClassifierTransformer Fit(IDataView input)
    {
        var labelColumn = input.Schema.GetColumnOrNull(options.LabelColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(input), $"EfficientVit trainer: label column '{options.LabelColumnName}' not found.");
        if (labelColumn.Type is not KeyDataViewType key)
            throw new ArgumentOutOfRangeException(nameof(input), $"EfficientVit trainer: label column '{options.LabelColumnName}' must be a key (use MapValueToKey first); found {labelColumn.Type}.");
        var imageColumn = input.Schema.GetColumnOrNull(options.ImageColumnName);
        if (imageColumn?.Type is not ImageDataViewType)
            throw new ArgumentOutOfRangeException(nameof(input), $"EfficientVit trainer: image column '{options.ImageColumnName}' must hold images (MLImage, from LoadImages).");

        // Before the training, so that a mistake in it does not cost a training run.
        CheckCalibrationData();

        // Progress goes to the MLContext's log (epochs as Info, steps as Trace) and to options.Progress.
        using var channel = host.Start("Training");
        var progress = new ChannelProgress(channel, options.Progress);
        var classNames = ClassNames(labelColumn, (int)key.Count);
        var samples = ReadImages(input, labelColumn, imageColumn.Value, options.MaxImagePixels);

        var data = new InMemoryImageDataset(samples, classNames);
        using var setup = TrainingSetup.Prepare(SetupOptions(options), data);
        var (model, metadata, recipe) = (setup.Model, setup.Metadata, setup.Recipe);
        // Read and checked before the training too: a calibration set too small or of flat images would
        // otherwise be refused only after it.
        var calibrationPixels = options.Quantization == EfficientVitQuantization.Int8 ? CalibrationPixels(metadata.Preprocessing) : null;
        var trainer = new EfficientVitTrainer(model, recipe, TrainerOptions(options), metadata);
        channel.Info(MessageSensitivity.UserData, $"training {(options.ModelPath is null ? $"EfficientViT-{options.Variant}" : $"'{options.ModelPath}'")} at {model.Config.ImageSize}x{model.Config.ImageSize} on {data.Count:N0} images of {classNames.Length} classes: " +
            $"{recipe.Epochs} epochs of batch {recipe.BatchSize}, peak learning rate {recipe.ScaledLearningRate():G3}");
        var result = trainer.Train(data, null, setup.TrainTransform, setup.EvalTransform, progress, options.CancellationToken);
        if (!result.Completed)
        {
            if (options.CancellationToken.IsCancellationRequested)
                throw new OperationCanceledException($"EfficientVit trainer: {result.StopReason}", options.CancellationToken);
            throw new InvalidOperationException($"EfficientVit trainer: {result.StopReason}");
        }
        model.eval();
        channel.Info(MessageSensitivity.None, "training done; exporting the BN-fused classifier to ONNX for the ML.NET model");
        var (steps, networkFiles, graph, int8Quality) = BuildChain(model, classNames, metadata.Preprocessing, calibrationPixels);
        var chain = steps.Fit(input);
        return new EfficientVitClassifierTransformer(chain, graph, device, networkFiles, result, metadata, int8Quality,
            new ImageSizeCheck(options.ImageColumnName, options.MaxImagePixels, "EfficientVit classifier"));
    }

    // How the run starts: the same preparation as the command line's, with the options of this trainer.
    private static TrainingSetupOptions SetupOptions(EfficientVitClassifierOptions options) => new()
    {
        Checkpoint = options.ModelPath,
        Variant = options.Variant,
        ImageSize = options.ImageSize,
        TrainTransform = p => new ImageTransform(p, train: true) { Scale = (options.MinCropScale, 1.0), RandomErasing = options.RandomErasing },
        Epochs = options.Epochs,
        BatchSize = options.BatchSize,
        LearningRate = options.LearningRate,
        Seed = options.Seed,
    };

    private static TrainerOptions TrainerOptions(EfficientVitClassifierOptions options) => new()
    {
        OutputDirectory = options.OutputDirectory,
        Threads = options.Threads,
        FreezeBackbone = options.FreezeBackbone,
        BackboneLearningRateScale = options.ModelPath is null ? 1.0 : options.BackboneLearningRateScale,
    };

    // The chain the trained model is: ML.NET's own components, so that it saves and loads without this library.
    private (EstimatorChain<ITransformer> Steps, IReadOnlyList<NetworkFile> NetworkFiles, byte[] Graph, Int8QualityReport? Int8Quality) BuildChain(
        EfficientVit model, string[] classNames, ImagePreprocessing preprocessing, List<float[]>? calibrationPixels)
    {
        var names = ScoringColumnNames.Unique();
        var graphOptions = preprocessing.GraphOptions(names.Pixels);
        graphOptions.FeaturesOutputName = names.Features;
        graphOptions.IncludeLogits = false;
        graphOptions.ProbabilitiesOutputName = names.Probabilities;
        graphOptions.DropBatchAxis = true;
        Int8QualityReport? int8Quality = null;
        if (calibrationPixels is not null)
        {
            // Calibrated in batches on the batched graph: dropping the batch axis changes only the outputs'
            // shapes, not the activations the ranges are for.
            var batched = graphOptions.Copy();
            batched.DropBatchAxis = false;
            var quantization = Int8Log.Quantize(transforms, nameof(EfficientVitClassifierTrainer), "EfficientVit trainer", nameof(options.CalibrationData),
                log => Int8Quantizer.Quantize(model, calibrationPixels, batched, quality: options.Int8Quality, log: log));
            graphOptions.Int8 = quantization.Options;
            int8Quality = quantization.Quality;
        }
        var exported = EfficientVitOnnxExporter.ToBytes(model, graphOptions);
        // The network says what it is, for LoadWithBatchedScoring and for the classifier's own batched scoring.
        var graph = ScoringContract.ForImages(ScoringContract.ClassifierRole, exported, preprocessing, names.Resized).AddTo(exported);
        var (steps, networkFiles) = BuildChain(preprocessing, classNames, names, builder => builder.ApplyOnnxModel(graph, [names.Probabilities], names.Pixels));
        return (steps, networkFiles, graph, int8Quality);
    }

    private (EstimatorChain<ITransformer> Steps, IReadOnlyList<NetworkFile> NetworkFiles) BuildChain(ImagePreprocessing preprocessing, string[] classNames, ScoringColumnNames names,
        Func<ScoringChainBuilder, ScoringChainBuilder> scoreProbabilities)
    {
        // Index i is the label's key i + 1; naming the keys by class makes MapKeyToValue give the class names back.
        var keys = classNames.Select((name, index) => new KeyValuePair<long, string>(index, name));
        var builder = new ScoringChainBuilder(transforms, device)
            .ResizeImages(preprocessing, options.ImageColumnName, names.Resized)
            .ExtractPixels(names.Resized, names.Pixels);
        scoreProbabilities(builder)
            .CopyColumns(options.ScoreColumnName, names.Probabilities)
            .Append(transforms.CopyColumns(PredictedIndexMapping.ProbabilitiesColumnName, names.Probabilities), PredictedIndexMapping.ProbabilitiesColumnName)
            .Append(transforms.CustomMapping(new PredictedIndexMapping().GetMapping(), PredictedIndexMapping.ContractName), PredictedIndexMapping.IndexColumnName)
            .Append(transforms.Conversion.MapValue(options.PredictedLabelColumnName, keys, PredictedIndexMapping.IndexColumnName, treatValuesAsKeyType: true));
        return (builder.TakeStepsAndDropIntermediates(), builder.NetworkFiles);
    }

    private void CheckCalibrationData()
    {
        if (options.CalibrationData is not { } data)
            return;
        var column = data.Schema.GetColumnOrNull(options.ImageColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(options),
                $"EfficientVit trainer: CalibrationData has no column '{options.ImageColumnName}'; it has {string.Join(", ", data.Schema.Select(c => $"'{c.Name}'"))}.");
        if (column.Type is not ImageDataViewType)
            throw new ArgumentOutOfRangeException(nameof(options),
                $"EfficientVit trainer: CalibrationData's column '{options.ImageColumnName}' has type {column.Type}; it must hold images (MLImage, from LoadImages) like the training data.");
        using var cursor = data.GetRowCursor([column]);
        if (!cursor.MoveNext())
            throw new ArgumentOutOfRangeException(nameof(options), "EfficientVit trainer: CalibrationData has no rows; int8 calibration needs a few hundred images.");
    }

    // The calibration images as the trained chain's network receives them: resized by ML.NET, pixels 0–255;
    // refused here, before the training, when too few or of one flat colour.
    private List<float[]> CalibrationPixels(ImagePreprocessing preprocessing)
    {
        var data = options.CalibrationData!;
        var names = ScoringColumnNames.Unique();
        var transformed = new ScoringChainBuilder(transforms, device)
            .ResizeImages(preprocessing, options.ImageColumnName, names.Resized)
            .ExtractPixels(names.Resized, names.Pixels)
            .TakeSteps().Fit(data).Transform(data);
        var pixels = transformed.GetColumn<float[]>(names.Pixels).ToList();
        try
        {
            Int8CalibrationImages.Split(pixels, holdout: null);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"EfficientVit trainer: CalibrationData: {e.Message}");
        }
        return pixels;
    }

    private static string[] ClassNames(DataViewSchema.Column label, int count)
    {
        if (label.HasKeyValues(TextDataViewType.Instance))
        {
            VBuffer<ReadOnlyMemory<char>> values = default;
            label.GetKeyValues(ref values);
            var names = values.DenseValues().Select(v => v.ToString()).ToArray();
            if (names.Length == count)
                return names;
        }
        return Enumerable.Range(1, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    private static List<ImageSample> ReadImages(IDataView input, DataViewSchema.Column label, DataViewSchema.Column image, long maxPixels)
    {
        var samples = new List<ImageSample>();
        using var cursor = input.GetRowCursor([label, image]);
        var getLabel = cursor.GetGetter<uint>(label);
        var getImage = cursor.GetGetter<MLImage>(image);
        uint key = 0;
        MLImage picture = null!;
        while (cursor.MoveNext())
        {
            getLabel(ref key);
            if (key == 0)
                continue; // a missing label: ML.NET's trainers skip such rows too
            getImage(ref picture);
            if (picture is null || picture.Width == 0 || picture.Height == 0)
                throw new InvalidDataException($"{Component}: row {cursor.Position} of column '{image.Name}' has no image.");
            if (ImageSizeCheck.Problem(Component, image.Name, picture.Width, picture.Height, maxPixels) is { } problem)
                throw new InvalidDataException($"{problem} (row {cursor.Position})");
            samples.Add(ToSample(picture, (int)key - 1, $"row {cursor.Position}"));
        }
        if (samples.Count == 0)
            throw new InvalidDataException($"EfficientVit trainer: no rows with a label in column '{label.Name}'.");
        return samples;
    }

    private static ImageSample ToSample(MLImage image, int label, string source)
    {
        var pixels = image.Pixels;
        var (red, blue) = image.PixelFormat == MLPixelFormat.Bgra32 ? (2, 0) : (0, 2);
        var rgb = new byte[image.Width * image.Height * 3];
        for (var i = 0; i < image.Width * image.Height; i++)
        {
            rgb[i * 3] = pixels[i * 4 + red];
            rgb[i * 3 + 1] = pixels[i * 4 + 1];
            rgb[i * 3 + 2] = pixels[i * 4 + blue];
        }
        return new ImageSample(rgb, image.Width, image.Height, 3, label, source);
    }

}
