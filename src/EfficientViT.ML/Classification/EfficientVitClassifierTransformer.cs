using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Classification;

/// <summary>
/// A trained EfficientViT classifier: adds the probabilities (<c>Score</c>) and the predicted label.
/// It is a chain of ML.NET components scoring one image per call with ONNX Runtime; saving writes that
/// chain, which loads as a <c>TransformerChain</c> in any process referencing Microsoft.ML,
/// Microsoft.ML.ImageAnalytics, Microsoft.ML.OnnxTransformer and Microsoft.ML.OnnxRuntime.
/// </summary>
public sealed class EfficientVitClassifierTransformer : ITransformer, IDisposable
{
    private readonly TransformerChain<ITransformer> chain;

    internal EfficientVitClassifierTransformer(TransformerChain<ITransformer> chain, TrainingResult training, CheckpointMetadata metadata)
    {
        this.chain = chain;
        Training = training;
        Metadata = metadata;
    }

    /// <summary>What the training did (epochs, losses).</summary>
    public TrainingResult Training { get; }

    /// <summary>The network's architecture, classes and preprocessing.</summary>
    public CheckpointMetadata Metadata { get; }

    /// <summary>The equivalent chain of ML.NET components: what is saved, and what a loading process gets back.</summary>
    public TransformerChain<ITransformer> AsMLNetChain() => chain;

    /// <inheritdoc/>
    public bool IsRowToRowMapper => ((ITransformer)chain).IsRowToRowMapper;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => chain.GetOutputSchema(inputSchema);

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => ((ITransformer)chain).GetRowToRowMapper(inputSchema);

    /// <inheritdoc/>
    public IDataView Transform(IDataView input) => chain.Transform(input);

    /// <summary>Saves the ML.NET chain (see the class remarks).</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)chain).Save(ctx);

    /// <summary>Releases the ONNX Runtime session.</summary>
    public void Dispose()
    {
        foreach (var transformer in chain)
            (transformer as IDisposable)?.Dispose();
    }
}
