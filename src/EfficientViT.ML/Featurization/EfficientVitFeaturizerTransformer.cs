using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Featurization;

/// <summary>
/// The fitted EfficientViT featurizer. <see cref="Transform"/> scores rows in batches with ONNX Runtime;
/// saving (<c>mlContext.Model.Save</c>) writes the equivalent chain of ML.NET components, with the
/// ONNX network inside the zip, which loads as a <c>TransformerChain</c> in any process that references
/// Microsoft.ML, Microsoft.ML.ImageAnalytics and Microsoft.ML.OnnxTransformer.
/// </summary>
public sealed class EfficientVitFeaturizerTransformer : ITransformer, IDisposable
{
    private readonly TransformsCatalog catalog;
    private readonly TransformerChain<ITransformer> chain;
    private readonly TransformerChain<ITransformer> preprocessing;
    private readonly ModelInput input;
    private readonly byte[] graph;
    private readonly EfficientVitFeaturizerEstimator.ColumnNames names;
    private readonly EfficientVitFeaturizerOptions options;
    private readonly Lazy<IFeatureScorer> session;
    private readonly Lazy<ScoringThreads> threads;

    // The first preprocessingSteps of the chain run in ML.NET; input reads their result.
    internal EfficientVitFeaturizerTransformer(TransformsCatalog catalog, TransformerChain<ITransformer> chain, int preprocessingSteps,
        ModelInput input, byte[] graph, EfficientVitFeaturizerEstimator.ColumnNames names, EfficientVitFeaturizerOptions options,
        Func<IFeatureScorer> createScorer)
    {
        this.catalog = catalog;
        this.chain = chain;
        preprocessing = new TransformerChain<ITransformer>(chain.Take(preprocessingSteps).ToArray());
        this.input = input;
        this.graph = graph;
        this.names = names;
        this.options = options;
        session = new Lazy<IFeatureScorer>(createScorer, LazyThreadSafetyMode.ExecutionAndPublication);
        threads = new Lazy<ScoringThreads>(() => new ScoringThreads(session.Value.Concurrency), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>
    /// The batched ONNX network of the saved model (BN fused; for image input, pixels 0–255 of the S×S image
    /// in, with the bicubic resize, crop and normalization in the graph).
    /// </summary>
    public ReadOnlyMemory<byte> OnnxModel => graph;

    /// <summary>The equivalent chain of ML.NET components: what is saved, and what a loading process gets back.</summary>
    public TransformerChain<ITransformer> AsMLNetChain() => chain;

    /// <inheritdoc/>
    public bool IsRowToRowMapper => ((ITransformer)chain).IsRowToRowMapper;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => chain.GetOutputSchema(inputSchema);

    /// <summary>Row-by-row mapping (used by <c>PredictionEngine</c>): ML.NET's own ONNX scoring, one image per call.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => ((ITransformer)chain).GetRowToRowMapper(inputSchema);

    /// <summary>
    /// Adds the feature column; rows are scored <see cref="EfficientVitFeaturizerOptions.BatchSize"/> at a time,
    /// by the chosen <see cref="FeaturizerEngine"/>, as a cursor moves, with up to
    /// <see cref="EfficientVitFeaturizerOptions.Threads"/> batches scored at once on the featurizer's own
    /// threads. Images are resampled in managed code to exactly the pixels the saved graph computes, while
    /// the batches before them are scored.
    /// </summary>
    public IDataView Transform(IDataView input)
    {
        // Validates the input as the saved chain would, and gives the feature type it declares.
        var featureType = chain.GetOutputSchema(input.Schema)[options.OutputColumnName].Type;
        var prepared = preprocessing.Transform(input);
        var scored = new BatchedFeaturesDataView(prepared, this.input, names.Features, featureType, session.Value, threads.Value, options.BatchSize);
        var copied = catalog.CopyColumns(options.OutputColumnName, names.Features).Fit(scored).Transform(scored);
        var temporary = new[] { EncodedImageDecoder.EncodedColumnName, EncodedImageDecoder.DecodedColumnName, names.Grayscale, names.Resized, names.Pixels, names.Features }.Where(n => copied.Schema.GetColumnOrNull(n) is not null).ToArray();
        return catalog.DropColumns(temporary).Fit(copied).Transform(copied);
    }

    /// <summary>Saves the equivalent ML.NET chain (see the class remarks).</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)chain).Save(ctx);

    /// <summary>Ends the scoring threads and releases the ONNX Runtime sessions.</summary>
    public void Dispose()
    {
        if (threads.IsValueCreated)
            threads.Value.Dispose();
        if (session.IsValueCreated)
            session.Value.Dispose();
        foreach (var transformer in chain)
            (transformer as IDisposable)?.Dispose();
    }
}
