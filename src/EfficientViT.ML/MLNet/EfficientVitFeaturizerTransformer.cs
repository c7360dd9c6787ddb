using EfficientViT.ML.Onnx;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// The fitted EfficientViT featurizer. <see cref="Transform"/> scores rows in batches with ONNX Runtime;
/// saving (<c>mlContext.Model.Save</c>) writes the equivalent chain of ML.NET components, with the
/// ONNX network inside the zip, which loads as a <c>TransformerChain</c> in any process that references
/// Microsoft.ML, Microsoft.ML.ImageAnalytics and Microsoft.ML.OnnxTransformer.
/// </summary>
public sealed class EfficientVitFeaturizerTransformer : ITransformer, IDisposable
{
    private readonly FeaturizerPlan plan;
    private readonly TransformerChain<ITransformer> chain;
    private readonly TransformerChain<ITransformer> preparation;
    private readonly TransformerChain<ITransformer> finish;
    private readonly TransformerChain<ITransformer> rowScoring;
    // Scores single rows in place of the row scoring part, for PredictionEngine.
    private readonly Lock rowStepLock = new();
    private BatchedOnnxStep? rowStep;
    private readonly ModelInput input;
    private readonly ImageSizeCheck imageSizeCheck;
    private readonly Lazy<IFeatureScorer> session;
    private readonly Lazy<ScoringThreads> threads;
    private readonly int batchSize;
    // Why the saved chain cannot score this input (a variable-size vector column), or null.
    private readonly string? rowScoringProblem;
    private bool disposed;

    // The saved chain is the three fitted parts one after the other; in memory, the middle one is replaced
    // by batches scored in ONNX Runtime (see FeaturizerPlan).
    internal EfficientVitFeaturizerTransformer(FeaturizerPlan plan, TransformerChain<ITransformer> preparation,
        TransformerChain<ITransformer> rowScoring, TransformerChain<ITransformer> finish, IReadOnlyList<NetworkFile> networkFiles, int batchSize, string? rowScoringProblem)
    {
        NetworkFiles = networkFiles;
        this.rowScoringProblem = rowScoringProblem;
        this.plan = plan;
        this.preparation = preparation;
        this.finish = finish;
        this.rowScoring = rowScoring;
        this.batchSize = batchSize;
        chain = new TransformerChain<ITransformer>([.. preparation, .. rowScoring, .. finish]);
        input = plan.CreateModelInput();
        imageSizeCheck = plan.CreateImageSizeCheck();
        session = new Lazy<IFeatureScorer>(plan.CreateScorer, LazyThreadSafetyMode.ExecutionAndPublication);
        threads = new Lazy<ScoringThreads>(() => new ScoringThreads(session.Value.Concurrency), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>
    /// The batched ONNX network of the saved model (BN fused; for image input, pixels 0–255 of the S×S image
    /// in, with the bicubic resize, crop and normalization in the graph).
    /// </summary>
    public ReadOnlyMemory<byte> OnnxModel => plan.BatchGraph;

    /// <summary>
    /// With <see cref="EfficientVitQuantization.Int8"/>: how the int8 network's features compared with float32
    /// on the calibration images held out when it was fitted (mean and lowest cosine, the repair used);
    /// null for a float32 featurizer.
    /// </summary>
    public Int8QualityReport? Int8Quality => plan.Int8Quality;

    /// <summary>The equivalent chain of ML.NET components: what is saved, and what a loading process gets back.</summary>
    public TransformerChain<ITransformer> AsMLNetChain() => chain;

    /// <inheritdoc/>
    public bool IsRowToRowMapper => ((ITransformer)chain).IsRowToRowMapper;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => chain.GetOutputSchema(inputSchema);

    /// <summary>
    /// Row-by-row mapping (used by <c>PredictionEngine</c>): the saved chain's preparation, then each image resampled
    /// as <see cref="Transform"/> does and scored alone by ONNX Runtime through buffers bound once.
    /// </summary>
    /// <exception cref="InvalidOperationException">The input column is a float vector of variable size, which the saved chain could not read.</exception>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ThrowIfDisposed();
        if (rowScoringProblem is not null)
            throw new InvalidOperationException(rowScoringProblem);
        var featureType = chain.GetOutputSchema(inputSchema)[plan.OutputColumnName].Type;
        BatchedOnnxStep step;
        lock (rowStepLock)
            step = rowStep ??= plan.CreateRowStep(rowScoring, featureType);
        return ((ITransformer)new TransformerChain<ITransformer>([imageSizeCheck, .. preparation, step, .. finish])).GetRowToRowMapper(inputSchema);
    }

    /// <summary>
    /// Adds the feature column; rows are scored <see cref="EfficientVitFeaturizerOptions.BatchSize"/> at a time
    /// by ONNX Runtime as a cursor moves, with up to <see cref="EfficientVitFeaturizerOptions.Threads"/> batches
    /// scored at once on the featurizer's own threads. Images are resampled in managed code to exactly the
    /// pixels the saved graph computes, while the batches before them are scored.
    /// </summary>
    public IDataView Transform(IDataView input)
    {
        ThrowIfDisposed();
        // Validates the input as the saved chain would, and gives the feature type it declares.
        var featureType = chain.GetOutputSchema(input.Schema)[plan.OutputColumnName].Type;
        var prepared = preparation.Transform(imageSizeCheck.Transform(input));
        var scored = new BatchedFeaturesDataView(prepared, this.input, plan.Names.Features, featureType, session.Value, threads.Value, batchSize);
        return finish.Transform(scored);
    }

    /// <summary>Saves the equivalent ML.NET chain (see the class remarks); refuses a chain that could not score its input once loaded.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        // Its ML.NET steps are disposed too: saving them would write a zip without its network.
        if (disposed)
            throw new ObjectDisposedException(nameof(EfficientVitFeaturizerTransformer), "EfficientVitFeaturize: the featurizer was disposed and cannot be saved; save it before disposing it.");
        if (rowScoringProblem is not null)
            throw new InvalidOperationException(rowScoringProblem);
        ((ICanSaveModel)chain).Save(ctx);
    }

    /// <summary>
    /// Ends the scoring threads, releases the ONNX Runtime sessions and deletes the temporary copy of the network
    /// its ML.NET steps read; the featurizer cannot be used afterwards.
    /// </summary>
    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;
        if (threads.IsValueCreated)
            threads.Value.Dispose();
        if (session.IsValueCreated)
            session.Value.Dispose();
        lock (rowStepLock)
            rowStep?.ReleaseSessions();
        foreach (var transformer in chain)
            (transformer as IDisposable)?.Dispose();
        foreach (var file in NetworkFiles)
            file.Dispose();
    }

    /// <summary>The files of the networks its ML.NET steps read; deleted by <see cref="Dispose"/>.</summary>
    internal IReadOnlyList<NetworkFile> NetworkFiles { get; }

    private void ThrowIfDisposed()
    {
        if (disposed)
            throw DisposedError();
    }

    /// <summary>What using the featurizer after <see cref="Dispose"/> reports, from here and from its cursors.</summary>
    internal static ObjectDisposedException DisposedError() =>
        new(nameof(EfficientVitFeaturizerTransformer), "EfficientVitFeaturize: the featurizer was disposed; dispose it only after its last Transform result has been read.");
}
