using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Stands in a loaded chain for one ML.NET <c>ApplyOnnxModel</c> step that scores an exported EfficientViT graph
/// one row per call: it scores the same graph, made batched, many rows per ONNX Runtime call
/// (<see cref="BatchedFeaturesDataView"/>), and single rows through buffers bound once (<see cref="SingleRowMapper"/>).
/// </summary>
/// <remarks>
/// It reads the resized image (or the pixel vector) that the step's <c>ExtractPixels</c> reads, so that the
/// pixels column that step makes is never computed; saving writes the replaced step as it was.
/// </remarks>
internal sealed class BatchedOnnxStep : ITransformer, IDisposable
{
    private readonly ITransformer replaced;
    private readonly ModelInput input;
    private readonly string outputColumnName;
    private readonly DataViewType outputType;
    private readonly Lazy<IFeatureScorer> batches;
    private readonly Lazy<ScoringThreads> threads;
    private readonly Lazy<SingleRowScorer> rows;
    private readonly int batchSize;
    private volatile bool disposed;

    public BatchedOnnxStep(ITransformer replaced, byte[] batchedGraph, ModelInput input, string graphInputName, string outputColumnName, DataViewType outputType, BatchedScoringOptions options,
        string source)
    {
        Source = source;
        this.replaced = replaced;
        this.input = input;
        this.outputColumnName = outputColumnName;
        this.outputType = outputType;
        batchSize = options.BatchSize;
        batches = new(() => new OnnxFeatureSession(batchedGraph, graphInputName, outputColumnName, options.Threads, options.Device), LazyThreadSafetyMode.ExecutionAndPublication);
        threads = new(() => new ScoringThreads(batches.Value.Concurrency), LazyThreadSafetyMode.ExecutionAndPublication);
        rows = new(() => new SingleRowScorer(batchedGraph, graphInputName, outputColumnName, options.RowThreads, options.Device), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>What it was built from: "contract" (the network's <see cref="ScoringContract"/>), "legacy" (<see cref="LegacyZipReader"/>) or "fitted" (the featurizer that made it).</summary>
    public string Source { get; }

    /// <summary>How the step reads its input column.</summary>
    public ModelInput Input => input;

    /// <summary>The column the step adds.</summary>
    public string OutputColumnName => outputColumnName;

    /// <summary>The ML.NET step it replaces.</summary>
    public ITransformer Replaced => replaced;

    public bool IsRowToRowMapper => true;

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => WithOutput(inputSchema, OutputType(inputSchema));

    public IDataView Transform(IDataView input)
    {
        ThrowIfDisposed();
        var type = OutputType(input.Schema);
        return new BatchedFeaturesDataView(input, this.input, outputColumnName, type, batches.Value, threads.Value, batchSize);
    }

    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ThrowIfDisposed();
        return new SingleRowMapper(inputSchema, input, outputColumnName, OutputType(inputSchema), rows.Value, () => disposed);
    }

    /// <summary>Saves the replaced ML.NET step, so that the zip loads anywhere as before.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        if (disposed)
            throw new ObjectDisposedException(nameof(BatchedOnnxStep), "EfficientViT scoring: the model was disposed and cannot be saved; save it before disposing it.");
        replaced.Save(ctx);
    }

    /// <summary>Ends the scoring threads and releases the ONNX Runtime sessions, this step's and the replaced step's.</summary>
    public void Dispose()
    {
        if (disposed)
            return;
        ReleaseSessions();
        (replaced as IDisposable)?.Dispose();
    }

    /// <summary>Ends this step's threads and sessions, leaving the replaced step as it is.</summary>
    internal void ReleaseSessions()
    {
        disposed = true;
        if (threads.IsValueCreated)
            threads.Value.Dispose();
        if (batches.IsValueCreated)
            batches.Value.Dispose();
        if (rows.IsValueCreated)
            rows.Value.Dispose();
    }

    // The replaced step's output type; checks that the input column is there and of the kind the step reads.
    private DataViewType OutputType(DataViewSchema inputSchema)
    {
        var column = inputSchema.GetColumnOrNull(input.ColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(inputSchema), $"EfficientViT scoring: input column '{input.ColumnName}' not found; the data has {string.Join(", ", inputSchema.Select(c => $"'{c.Name}'"))}.");
        var expected = input is ImageInput ? typeof(Microsoft.ML.Transforms.Image.ImageDataViewType) : typeof(VectorDataViewType);
        if (!expected.IsInstanceOfType(column.Type))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"EfficientViT scoring: input column '{input.ColumnName}' has type {column.Type}; expected {(input is ImageInput ? "an image" : "a float vector")}.");
        return outputType;
    }

    private DataViewSchema WithOutput(DataViewSchema inputSchema, DataViewType type)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        builder.AddColumn(outputColumnName, type);
        return builder.ToSchema();
    }

    private void ThrowIfDisposed()
    {
        if (disposed)
            throw new ObjectDisposedException(nameof(BatchedOnnxStep), "EfficientViT scoring: the model was disposed; dispose it only after its last Transform result has been read.");
    }
}
