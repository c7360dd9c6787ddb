using EfficientViT.ML.Onnx;
using EfficientViT.ML.Preprocessing;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// How a featurizer handles one kind of input column: the ML.NET steps it fits, the graphs they use and
/// the intermediate columns between them. Built once per kind by <see cref="EfficientVitFeaturizerEstimator"/>,
/// which delegates to it as ML.NET's <c>DnnImageFeaturizerEstimator</c> delegates to its chain.
/// </summary>
/// <remarks>
/// The saved chain has three parts. The preparation (decode, grayscale, <c>ResizeImages</c>) runs in
/// ML.NET in memory too. The row scoring (<c>ExtractPixels</c>, <c>ApplyOnnxModel</c>, dropping the
/// pixels) is what the in-memory featurizer replaces by batches (<see cref="CreateModelInput"/> and <see cref="CreateScorer"/>).
/// The finish copies the features to the user's column and drops the intermediate columns.
/// </remarks>
internal sealed class FeaturizerPlan
{
    private readonly FeaturizerInputKind kind;
    private readonly FeaturizerGraphs graphs;
    private readonly ImagePreprocessing preprocessing;
    private readonly EfficientVitFeaturizerOptions options;
    private readonly TransformsCatalog catalog;
    private readonly OnnxDevice device;
    // For int8: this plan with its graphs calibrated, made at the first fit (once per input kind and calibration data).
    private readonly Lazy<FeaturizerPlan>? quantized;
    private readonly Lock outputColumnLock = new();
    private SchemaShape.Column? outputColumn;

    public FeaturizerPlan(FeaturizerInputKind kind, FeaturizerGraphs graphs, ScoringColumnNames names, ImagePreprocessing preprocessing,
        EfficientVitFeaturizerOptions options, TransformsCatalog catalog, OnnxDevice device)
    {
        this.device = device;
        if (options.Quantization == EfficientVitQuantization.Int8 && !graphs.IsQuantized)
            quantized = new(() => new FeaturizerPlan(kind, graphs.Quantized(Quantize()), names, preprocessing, options, catalog, device), LazyThreadSafetyMode.ExecutionAndPublication);
        this.kind = kind;
        this.graphs = graphs;
        Names = names;
        this.preprocessing = preprocessing;
        this.options = options;
        this.catalog = catalog;
    }

    /// <summary>The intermediate columns.</summary>
    public ScoringColumnNames Names { get; }

    /// <summary>The user's column to create.</summary>
    public string OutputColumnName => options.OutputColumnName;

    private bool FromImages => kind != FeaturizerInputKind.PixelVector;

    /// <summary>How the int8 graphs compare with float32 on held-out calibration images; null for float graphs.</summary>
    public Int8QualityReport? Int8Quality => graphs.Int8Quality;

    /// <summary>The batched graph of this input kind (see <see cref="EfficientVitFeaturizerTransformer.OnnxModel"/>).</summary>
    public byte[] BatchGraph => (FromImages ? graphs.ImageBatch : graphs.PixelVectorBatch).Value;

    /// <summary>The input schema with the feature column added (or replacing a column of that name).</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaShape.Column output;
        lock (outputColumnLock)
        {
            // The feature column's shape is the same for every input of this kind: it is asked of the chain's
            // steps once (which exports the one-row graph and opens an ONNX Runtime session), then reused.
            outputColumn ??= OutputColumnOfAllSteps(inputSchema);
            output = outputColumn.Value;
        }
        var columns = inputSchema.ToList();
        var existing = columns.FindLastIndex(c => c.Name == output.Name);
        if (existing >= 0)
            columns[existing] = output;
        else
            columns.Add(output);
        return new SchemaShape(columns);
    }

    /// <summary>Fits the three parts of the chain on <paramref name="input"/>; for int8, with the graphs calibrated at the first fit.</summary>
    public EfficientVitFeaturizerTransformer Fit(IDataView input)
    {
        if (quantized is not null)
            return quantized.Value.Fit(input);
        var builder = new ScoringChainBuilder(catalog, device);
        AppendPreparation(builder);
        var preparation = builder.TakeSteps().Fit(input);
        var prepared = preparation.Transform(input);
        AppendRowScoring(builder);
        var rowScoring = builder.TakeSteps().Fit(prepared);
        var scored = rowScoring.Transform(prepared);
        AppendFinish(builder);
        var finish = builder.TakeStepsAndDropIntermediates().Fit(scored);
        return new EfficientVitFeaturizerTransformer(this, preparation, rowScoring, finish, builder.NetworkFiles, options.BatchSize, RowScoringProblem(input.Schema));
    }

    // ML.NET's ONNX scoring, which a saved model and a PredictionEngine run, takes only vectors of a known
    // size, and no ML.NET component gives a variable-size vector one; the batched Transform reads each
    // row's length and works.
    private string? RowScoringProblem(DataViewSchema inputSchema)
    {
        if (kind != FeaturizerInputKind.PixelVector || inputSchema[options.InputColumnName].Type is not VectorDataViewType { Size: 0 })
            return null;
        var side = preprocessing.ImageSize;
        return $"EfficientVitFeaturize: input column '{options.InputColumnName}' is a float vector of variable size, which ML.NET's ONNX scoring " +
            $"(a saved model, a PredictionEngine) cannot read. Give it a fixed size of 3x{side}x{side} = {3 * side * side}: " +
            $"[VectorType(3, {side}, {side})] on the float[] property, or a schema with VectorDataViewType(NumberDataViewType.Single, 3, {side}, {side}).";
    }

    // The calibration images go through the same preparation as the data and are read as the in-memory
    // scorer reads its batches, so the ranges are those of the values the int8 graphs will see.
    private Int8Quantization Quantize()
    {
        var data = options.CalibrationData!;
        var column = options.InputColumnName;
        FeaturizerInputKind calibrationKind;
        try
        {
            calibrationKind = FeaturizerInput.Classify(data.Schema, column, preprocessing.ImageSize);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentException($"EfficientVitFeaturize: CalibrationData: {e.Message}", nameof(options), e);
        }
        if (calibrationKind != kind)
            throw new ArgumentException(
                $"EfficientVitFeaturize: CalibrationData's column '{column}' holds {Describe(calibrationKind)}, but the data the featurizer is fitted on holds {Describe(kind)}; give the calibration images in the same form.",
                nameof(options));

        var builder = new ScoringChainBuilder(catalog, device);
        AppendPreparation(builder);
        var prepared = builder.TakeSteps().Fit(data).Transform(data);
        var modelInput = CreateModelInput();
        var inputLength = 3 * preprocessing.ImageSize * preprocessing.ImageSize;
        var inputs = new List<float[]>();
        using (var cursor = prepared.GetRowCursor([prepared.Schema[modelInput.ColumnName]]))
        using (var reader = modelInput.Open(cursor))
        {
            while (cursor.MoveNext())
            {
                try
                {
                    reader.Fetch();
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    throw new ArgumentException($"EfficientVitFeaturize: CalibrationData: could not read the image of row {cursor.Position} (column '{column}'): {e.Message}{ImageReadHints.For(e)}", nameof(options), e);
                }
                var values = new float[inputLength];
                reader.Write(cursor.Position, values);
                inputs.Add(values);
            }
        }
        if (inputs.Count == 0)
            throw new ArgumentException("EfficientVitFeaturize: CalibrationData has no rows; int8 calibration needs a few hundred images.", nameof(options));
        return Int8Log.Quantize(catalog, nameof(EfficientVitFeaturizerEstimator), "EfficientVitFeaturize", "CalibrationData",
            log => graphs.Quantize(FromImages, inputs, options.Int8Quality, log));
    }

    private static string Describe(FeaturizerInputKind inputKind) => inputKind switch
    {
        FeaturizerInputKind.Image => "images (MLImage)",
        FeaturizerInputKind.EncodedImage => "encoded image bytes",
        _ => "float pixel vectors",
    };

    /// <summary>Where the in-memory featurizer reads its batches: the resized images, or the user's pixel vectors.</summary>
    public ModelInput CreateModelInput() => FromImages
        ? new ImageInput(Names.Resized, options.InputColumnName, new ImageResampler(preprocessing.ImageSize, preprocessing.ResizeSize, preprocessing.PixelMean, preprocessing.GraphInterpolation))
        : new PixelVectorInput(options.InputColumnName, options.InputColumnName, preprocessing.ImageSize);

    /// <summary>Refuses input images over the pixel limit as they are read (in memory only; not part of the saved chain).</summary>
    public ImageSizeCheck CreateImageSizeCheck() => new(options.InputColumnName, options.MaxImagePixels, "EfficientVitFeaturize");

    /// <summary>The ONNX Runtime sessions that score the in-memory featurizer's batches.</summary>
    public IFeatureScorer CreateScorer() => FromImages
        ? new OnnxFeatureSession(graphs.ResampledImageBatch.Value, Names.Pixels, Names.Features, options.Threads, device)
        : new OnnxFeatureSession(graphs.PixelVectorBatch.Value, options.InputColumnName, Names.Features, options.Threads, device);

    /// <summary>Scores single rows in place of <paramref name="rowScoring"/>, with the input and graph of the batches.</summary>
    public BatchedOnnxStep CreateRowStep(ITransformer rowScoring, DataViewType featureType) => FromImages
        ? new BatchedOnnxStep(rowScoring, graphs.ResampledImageBatch.Value, CreateModelInput(), Names.Pixels, Names.Features, featureType, RowStepOptions, "fitted")
        : new BatchedOnnxStep(rowScoring, graphs.PixelVectorBatch.Value, CreateModelInput(), options.InputColumnName, Names.Features, featureType, RowStepOptions, "fitted");

    private BatchedScoringOptions RowStepOptions => new() { Device = device };

    private SchemaShape.Column OutputColumnOfAllSteps(SchemaShape inputSchema)
    {
        var builder = new ScoringChainBuilder(catalog, device);
        try
        {
            AppendPreparation(builder);
            AppendRowScoring(builder);
            AppendFinish(builder);
            return builder.TakeStepsAndDropIntermediates().GetOutputSchema(inputSchema).Last(c => c.Name == options.OutputColumnName);
        }
        finally
        {
            // The ONNX step inside the unfitted chain cannot be reached to dispose; its session has read the file,
            // which is deleted now where the system allows it (Linux, macOS) and otherwise at the process's exit.
            foreach (var file in builder.NetworkFiles)
                file.Dispose();
        }
    }

    private void AppendPreparation(ScoringChainBuilder builder)
    {
        if (!FromImages)
            return;
        var image = options.InputColumnName;
        if (kind == FeaturizerInputKind.EncodedImage)
        {
            builder.Append(catalog.CopyColumns(EncodedImageDecoder.EncodedColumnName, image), EncodedImageDecoder.EncodedColumnName)
                .Append(catalog.CustomMapping(new EncodedImageDecoder().GetMapping(), EncodedImageDecoder.ContractName), EncodedImageDecoder.DecodedColumnName);
            image = EncodedImageDecoder.DecodedColumnName;
        }
        if (preprocessing.Grayscale)
        {
            builder.Append(catalog.ConvertToGrayscale(Names.Grayscale, image), Names.Grayscale);
            image = Names.Grayscale;
        }
        builder.ResizeImages(preprocessing, image, Names.Resized);
    }

    private void AppendRowScoring(ScoringChainBuilder builder)
    {
        // The pixels are dropped within this part: the in-memory featurizer, which replaces it, has none,
        // and must leave the same columns for the finish.
        if (FromImages)
            builder.ExtractPixels(Names.Resized, Names.Pixels)
                .ApplyOnnxModel(graphs.ImageRow.Value, [Names.Features], Names.Pixels)
                .DropColumns(Names.Pixels);
        else
            builder.ApplyOnnxModel(graphs.PixelVectorRow.Value, [Names.Features], options.InputColumnName);
    }

    private void AppendFinish(ScoringChainBuilder builder) => builder.CopyColumns(options.OutputColumnName, Names.Features);
}
