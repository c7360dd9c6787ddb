using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// A trained EfficientViT classifier: adds the probabilities (<c>Score</c>) and the predicted label.
/// Saving writes a chain of ML.NET components that scores one image per ONNX Runtime call, which loads as
/// a <c>TransformerChain</c> in any process referencing Microsoft.ML, Microsoft.ML.ImageAnalytics,
/// Microsoft.ML.OnnxTransformer and Microsoft.ML.OnnxRuntime. In memory, <see cref="Transform"/> scores
/// the same network many images per call and a <c>PredictionEngine</c> one image through buffers bound
/// once, as <c>mlContext.Model.LoadWithBatchedScoring</c> does for the saved zip: the same scores, faster.
/// </summary>
public sealed class EfficientVitClassifierTransformer : ITransformer, IDisposable
{
    private readonly TransformerChain<ITransformer> chain;
    // The chain with its network scored in batches, as its scoring contract says; made at first use.
    private readonly Lazy<ITransformer> scoring;
    private readonly ImageSizeCheck imageSizeCheck;
    private bool disposed;

    internal EfficientVitClassifierTransformer(TransformerChain<ITransformer> chain, byte[] graph, OnnxDevice device, IReadOnlyList<NetworkFile> networkFiles, TrainingResult training,
        CheckpointMetadata metadata, Int8QualityReport? int8Quality, ImageSizeCheck imageSizeCheck)
    {
        this.chain = chain;
        this.imageSizeCheck = imageSizeCheck;
        NetworkFiles = networkFiles;
        Training = training;
        Metadata = metadata;
        Int8Quality = int8Quality;
        scoring = new Lazy<ITransformer>(() => BatchedScoring.Replace(chain, (_, _) => graph, new BatchedScoringOptions { Device = device }), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>What the training did (epochs, losses).</summary>
    public TrainingResult Training { get; }

    /// <summary>The network's architecture, classes and preprocessing.</summary>
    public CheckpointMetadata Metadata { get; }

    /// <summary>
    /// With <see cref="EfficientVitQuantization.Int8"/>: how the int8 network compared with float32 on the
    /// calibration images held out (feature cosine, top-1 agreement, the repair used); null for float32.
    /// </summary>
    public Int8QualityReport? Int8Quality { get; }

    /// <summary>The equivalent chain of ML.NET components: what is saved, and what a loading process gets back.</summary>
    public TransformerChain<ITransformer> AsMLNetChain() => chain;

    /// <inheritdoc/>
    public bool IsRowToRowMapper => ((ITransformer)chain).IsRowToRowMapper;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => chain.GetOutputSchema(inputSchema);

    /// <summary>Row-by-row mapping (used by <c>PredictionEngine</c>): each image scored alone through buffers bound once.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) =>
        ((ITransformer)new TransformerChain<ITransformer>([imageSizeCheck, Scoring()])).GetRowToRowMapper(inputSchema);

    /// <summary>Adds the probabilities and the predicted label; images are scored in batches by ONNX Runtime as a cursor moves.</summary>
    public IDataView Transform(IDataView input) => Scoring().Transform(imageSizeCheck.Transform(input));

    /// <summary>Saves the ML.NET chain (see the class remarks).</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        // Its ML.NET steps are disposed too: saving them would write a zip without its network.
        if (disposed)
            throw new ObjectDisposedException(nameof(EfficientVitClassifierTransformer), "EfficientVit classifier: the classifier was disposed and cannot be saved; save it before disposing it.");
        ((ICanSaveModel)chain).Save(ctx);
    }

    /// <summary>Whether the network is scored in batches.</summary>
    internal bool ScoresInBatches => !ReferenceEquals(Scoring(), chain);

    /// <summary>
    /// Releases the ONNX Runtime sessions and scoring threads and deletes the temporary copy of the network its
    /// ML.NET steps read; the classifier cannot be used afterwards.
    /// </summary>
    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;
        if (scoring.IsValueCreated)
            BatchedScoring.ReleaseSessions(scoring.Value);
        foreach (var transformer in chain)
            (transformer as IDisposable)?.Dispose();
        foreach (var file in NetworkFiles)
            file.Dispose();
    }

    /// <summary>The files of the networks its ML.NET steps read; deleted by <see cref="Dispose"/>.</summary>
    internal IReadOnlyList<NetworkFile> NetworkFiles { get; }

    private ITransformer Scoring()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return scoring.Value;
    }
}
