using EfficientViT.ML.Preprocessing;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Builds the ML.NET chains of the featurizer and the classifier from ML.NET's own components (so that a
/// saved model loads without this library): resize, extract pixels, score with the exported graph, copy
/// the results to the user's columns, and drop every intermediate column the steps made.
/// </summary>
/// <remarks>
/// The steps are taken in parts (<see cref="TakeSteps"/>), so that the featurizer can run its first part
/// in ML.NET and score the rest in batches, and the last part (<see cref="TakeStepsAndDropIntermediates"/>)
/// ends with one <c>DropColumns</c> of all the intermediate columns appended since the start.
/// </remarks>
internal sealed class ScoringChainBuilder(TransformsCatalog catalog, OnnxDevice device)
{
    private readonly List<string> intermediate = [];
    private readonly List<NetworkFile> networkFiles = [];
    private EstimatorChain<ITransformer> steps = new();

    /// <summary>The catalog the steps are made with (the user's <c>MLContext</c>'s, so that its log and seed apply).</summary>
    public TransformsCatalog Catalog => catalog;

    /// <summary>Appends <paramref name="step"/>; <paramref name="intermediateColumns"/> are the columns it makes that the chain drops at its end.</summary>
    public ScoringChainBuilder Append(IEstimator<ITransformer> step, params string[] intermediateColumns)
    {
        steps = steps.Append(step);
        intermediate.AddRange(intermediateColumns);
        return this;
    }

    /// <summary>ML.NET's <c>ResizeImages</c> of <paramref name="imageColumn"/> into <paramref name="resizedColumn"/> (intermediate).</summary>
    public ScoringChainBuilder ResizeImages(ImagePreprocessing preprocessing, string imageColumn, string resizedColumn) =>
        Append(preprocessing.ResizeImages(catalog, imageColumn, resizedColumn), resizedColumn);

    /// <summary>ML.NET's <c>ExtractPixels</c> of <paramref name="resizedColumn"/> into <paramref name="pixelsColumn"/> (intermediate).</summary>
    public ScoringChainBuilder ExtractPixels(string resizedColumn, string pixelsColumn) =>
        Append(PreprocessingSplit.ExtractPixels(catalog, resizedColumn, pixelsColumn), pixelsColumn);

    /// <summary>
    /// The files of the networks the <c>ApplyOnnxModel</c> steps read (see <see cref="NetworkFile"/>): whoever
    /// keeps the fitted steps disposes them after the steps.
    /// </summary>
    public IReadOnlyList<NetworkFile> NetworkFiles => networkFiles;

    /// <summary>ML.NET's <c>ApplyOnnxModel</c> with <paramref name="graph"/>, one row per call, on the builder's device; its outputs are intermediate.</summary>
    public ScoringChainBuilder ApplyOnnxModel(byte[] graph, string[] outputColumns, string inputColumn)
    {
        var file = NetworkFile.Write(graph);
        networkFiles.Add(file);
        return Append(catalog.ApplyOnnxModel(outputColumns, [inputColumn], file.Path, device.GpuDeviceId, device.FallbackToCpu), outputColumns);
    }

    /// <summary>ML.NET's <c>CopyColumns</c> into a column the chain keeps.</summary>
    public ScoringChainBuilder CopyColumns(string outputColumn, string inputColumn) =>
        Append(catalog.CopyColumns(outputColumn, inputColumn));

    /// <summary>Drops intermediate columns now rather than at the chain's end (the later steps do not read them).</summary>
    public ScoringChainBuilder DropColumns(params string[] intermediateColumns)
    {
        intermediate.RemoveAll(intermediateColumns.Contains);
        return Append(catalog.DropColumns(intermediateColumns));
    }

    /// <summary>The steps appended since the last take.</summary>
    public EstimatorChain<ITransformer> TakeSteps()
    {
        var taken = steps;
        steps = new EstimatorChain<ITransformer>();
        return taken;
    }

    /// <summary>The steps appended since the last take, then a <c>DropColumns</c> of every intermediate column.</summary>
    public EstimatorChain<ITransformer> TakeStepsAndDropIntermediates() =>
        Append(catalog.DropColumns(intermediate.ToArray())).TakeSteps();
}
