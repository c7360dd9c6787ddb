using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Microsoft.ML.Transforms.Onnx;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Puts a <see cref="BatchedOnnxStep"/> in place of each ML.NET <c>ApplyOnnxModel</c> step of a chain that scores an
/// exported EfficientViT network one row per call: in a fitted classifier, and in a chain ML.NET loaded from a zip.
/// The step is built from the network's <see cref="ScoringContract"/>; networks saved before contracts go to the
/// <see cref="LegacyZipReader"/>. Every other step, and any network it does not recognise, stays as it was.
/// </summary>
internal static class BatchedScoring
{
    // Where ML.NET's Model.Save writes a chain's steps.
    private const string ChainFolder = "TransformerChain/";

    /// <summary>Where an <c>ApplyOnnxModel</c> step's network comes from: the step and its folder in the zip (<c>TransformerChain/Transform_002/</c>).</summary>
    public delegate byte[]? GraphSource(OnnxTransformer step, string folder);

    /// <summary><paramref name="model"/> with its EfficientViT steps batched, or itself when it has none.</summary>
    public static ITransformer Replace(ITransformer model, GraphSource graphs, BatchedScoringOptions options) =>
        model is TransformerChain<ITransformer> chain ? Rebuild(chain, ChainFolder, graphs, options) : model;

    /// <summary>Ends the threads and sessions of the batched steps in <paramref name="model"/>, leaving the steps they replaced as they are.</summary>
    public static void ReleaseSessions(ITransformer model)
    {
        if (model is BatchedOnnxStep step)
            step.ReleaseSessions();
        else if (model is TransformerChain<ITransformer> chain)
            foreach (var inner in chain)
                ReleaseSessions(inner);
    }

    private static TransformerChain<ITransformer> Rebuild(TransformerChain<ITransformer> chain, string folder, GraphSource graphs, BatchedScoringOptions options)
    {
        var steps = chain.ToArray();
        var changed = false;
        for (var i = 0; i < steps.Length; i++)
        {
            var stepFolder = $"{folder}Transform_{i:000}/";
            ITransformer? replacement = steps[i] switch
            {
                TransformerChain<ITransformer> inner => Rebuild(inner, stepFolder, graphs, options),
                OnnxTransformer onnx when graphs(onnx, stepFolder) is { } graph => Batch(onnx, graph, i > 0 ? steps[i - 1] : null, options),
                _ => null,
            };
            if (replacement is not null && !ReferenceEquals(replacement, steps[i]))
            {
                steps[i] = replacement;
                changed = true;
            }
        }
        return changed ? new TransformerChain<ITransformer>(steps, Scopes(chain)) : chain;
    }

    // Each step's scopes, from what ML.NET's public GetModelFor keeps of the chain for each scope.
    private static TransformerScope[] Scopes(TransformerChain<ITransformer> chain)
    {
        var steps = chain.ToArray();
        var scopes = new TransformerScope[steps.Length];
        foreach (var scope in new[] { TransformerScope.Training, TransformerScope.Testing, TransformerScope.Scoring })
        {
            var kept = chain.GetModelFor(scope).ToArray();
            for (int i = 0, k = 0; i < steps.Length && k < kept.Length; i++)
            {
                if (ReferenceEquals(steps[i], kept[k]))
                {
                    scopes[i] |= scope;
                    k++;
                }
            }
        }
        return scopes;
    }

    private static BatchedOnnxStep? Batch(OnnxTransformer onnx, byte[] graph, ITransformer? previous, BatchedScoringOptions options)
    {
        var metadata = RowGraphBatching.Metadata(graph);
        if (!metadata.ContainsKey("efficientvit.variant"))
            return null;
        var contract = ScoringContract.Read(graph);
        return contract is null ? LegacyZipReader.TryBatch(onnx, graph, previous, options) : FromContract(onnx, graph, contract, previous, options);
    }

    /// <summary>The batched step the contract describes; null when the chain around the network is not the one the contract names.</summary>
    private static BatchedOnnxStep? FromContract(OnnxTransformer onnx, byte[] rowGraph, ScoringContract contract, ITransformer? previous, BatchedScoringOptions options)
    {
        var (inputName, dims) = RowGraphBatching.Input(rowGraph);
        if (contract.BatchDimension != 0 || dims is not [null, 3, { } height, { } width] || height != width)
            throw new InvalidDataException($"the network's input '{inputName}' is not (batch, 3, S, S) as its scoring contract says.");
        var side = (int)height;
        var batched = contract.OutputsBatched ? rowGraph : RowGraphBatching.Batched(rowGraph, out var reason)
            ?? throw new InvalidDataException($"the network's outputs cannot be given their batch dimension back: {reason}.");
        var (outputName, outputType) = OutputColumn(onnx, inputName, side);
        if (contract.InputKind == ScoringInputKind.PixelVector)
            return new BatchedOnnxStep(onnx, batched, new PixelVectorInput(inputName, inputName, side), inputName, outputName, outputType, options, "contract");
        // The ExtractPixels step before the network stays in the chain; nothing reads its pixels once the batched step reads the images.
        if (previous is not ImagePixelExtractingTransformer)
            return null;
        var preprocessing = contract.Preprocessing!;
        var resampler = new ImageResampler(side, preprocessing.ResizeSize, preprocessing.PixelMean, preprocessing.GraphInterpolation);
        var centered = RowGraphBatching.StartingAt(batched, contract.CenteredValue!, inputName);
        return new BatchedOnnxStep(onnx, centered, new ImageInput(contract.ImageColumn!, contract.ImageColumn!, resampler), inputName, outputName, outputType, options, "contract");
    }

    /// <summary>The one column the step adds to its input, as ML.NET declares it.</summary>
    internal static (string Name, DataViewType Type) OutputColumn(OnnxTransformer onnx, string inputName, int side)
    {
        var graphInput = new DataViewSchema.Builder();
        graphInput.AddColumn(inputName, new VectorDataViewType(NumberDataViewType.Single, 3, side, side));
        var graphInputSchema = graphInput.ToSchema();
        var added = onnx.GetOutputSchema(graphInputSchema).Skip(graphInputSchema.Count).ToList();
        if (added.Count != 1 || added[0].Type is not VectorDataViewType { ItemType: var item } || item != NumberDataViewType.Single)
            throw new InvalidDataException($"the network adds {added.Count} columns; one float vector was expected.");
        return (added[0].Name, added[0].Type);
    }
}
