using System.IO.Compression;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Microsoft.ML.Transforms.Onnx;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Finds, in a chain ML.NET loaded, the <c>ApplyOnnxModel</c> steps that score an exported EfficientViT graph
/// one row per call, and puts a <see cref="BatchedOnnxStep"/> in each one's place. Everything else, and any
/// step it does not recognise for certain, stays as ML.NET loaded it.
/// </summary>
/// <remarks>
/// A step is recognised by its graph: the exporter's metadata (<c>efficientvit.variant</c>) and, for image
/// input, the intermediate column names the library writes (<c>EfficientVit_…_Pixels</c>, made by the
/// <c>ExtractPixels</c> just before from <c>EfficientVit_…_Resized</c>). Before the replacement is kept, both
/// score the same probe rows, and it must give exactly the replaced steps' values.
/// </remarks>
internal static class BatchedScoringLoader
{
    private const string PixelsSuffix = "Pixels";
    private const string ResizedSuffix = "Resized";
    private const string ColumnPrefix = "EfficientVit_";
    private const int ProbeRows = 3;

    // ML.NET keeps a chain's scopes private and rebuilding a chain needs them; without the field, every step is
    // taken as scoped Everything, what a saved chain of fitted estimators holds.
    private static readonly FieldInfo? ScopesField = typeof(TransformerChain<ITransformer>).GetField("_scopes", BindingFlags.Instance | BindingFlags.NonPublic);

    /// <summary><paramref name="loaded"/> with its EfficientViT scoring steps batched, or itself when it has none.</summary>
    public static ITransformer Replace(ITransformer loaded, BatchedScoringOptions options) =>
        loaded is TransformerChain<ITransformer> chain ? Rebuild(chain, options) : loaded;

    /// <summary>Ends the threads and sessions of the batched steps that <see cref="Replace"/> put in <paramref name="batched"/>, leaving the steps they replaced as they are.</summary>
    public static void ReleaseSessions(ITransformer batched)
    {
        if (batched is BatchedOnnxStep step)
            step.ReleaseSessions();
        else if (batched is TransformerChain<ITransformer> chain)
            foreach (var inner in chain)
                ReleaseSessions(inner);
    }

    private static TransformerChain<ITransformer> Rebuild(TransformerChain<ITransformer> chain, BatchedScoringOptions options)
    {
        var steps = chain.ToArray();
        var changed = false;
        for (var i = 0; i < steps.Length; i++)
        {
            ITransformer? replacement = steps[i] switch
            {
                TransformerChain<ITransformer> inner => Rebuild(inner, options),
                OnnxTransformer onnx => TryBatch(onnx, i > 0 ? steps[i - 1] : null, options),
                _ => null,
            };
            if (replacement is not null && !ReferenceEquals(replacement, steps[i]))
            {
                steps[i] = replacement;
                changed = true;
            }
        }
        if (!changed)
            return chain;
        var scopes = ScopesField?.GetValue(chain) as TransformerScope[] is { } found && found.Length == steps.Length
            ? found
            : Enumerable.Repeat(TransformerScope.Everything, steps.Length).ToArray();
        return new TransformerChain<ITransformer>(steps, scopes);
    }

    private static BatchedOnnxStep? TryBatch(OnnxTransformer onnx, ITransformer? previous, BatchedScoringOptions options)
    {
        var graph = SavedGraph(onnx);
        if (graph is null || !RowGraphBatching.Metadata(graph).TryGetValue("efficientvit.variant", out _))
            return null;
        var (inputName, dims) = RowGraphBatching.Input(graph);
        if (dims is not [null, 3, { } height, { } width] || height != width)
            return null;
        var side = (int)height;
        var pixelsInGraph = RowGraphBatching.Metadata(graph).GetValueOrDefault("efficientvit.normalization_in_graph") == "true";
        ModelInput input;
        if (pixelsInGraph)
        {
            // Pixels 0-255 of the resized image, channels first: ExtractPixels' output, which the input reads directly.
            if (previous is not ImagePixelExtractingTransformer || !inputName.StartsWith(ColumnPrefix, StringComparison.Ordinal) || !inputName.EndsWith(PixelsSuffix, StringComparison.Ordinal))
                return null;
            var resized = inputName[..^PixelsSuffix.Length] + ResizedSuffix;
            input = new ImageInput(resized, resized, new BicubicUpsampler(side, side));
        }
        else
        {
            input = new PixelVectorInput(inputName, inputName, side);
        }

        var graphInput = new DataViewSchema.Builder();
        graphInput.AddColumn(inputName, new VectorDataViewType(NumberDataViewType.Single, 3, side, side));
        var graphInputSchema = graphInput.ToSchema();
        var added = onnx.GetOutputSchema(graphInputSchema).Skip(graphInputSchema.Count).ToList();
        if (added.Count != 1 || added[0].Type is not VectorDataViewType { ItemType: var item } || item != NumberDataViewType.Single)
            return null;
        var batched = RowGraphBatching.Batched(graph, out _);
        if (batched is null)
            return null;

        var replaced = pixelsInGraph ? new TransformerChain<ITransformer>(previous!, onnx) : (ITransformer)onnx;
        // As the fitted featurizer scores: resampled in managed code, the rest of the graph in ONNX Runtime.
        if (pixelsInGraph && PreprocessingCut.TryCut(batched, inputName, side) is var (cutGraph, upsampler))
        {
            var resampling = new ImageInput(input.ColumnName, input.UserColumn, upsampler);
            if (Checked(new BatchedOnnxStep(onnx, cutGraph, resampling, inputName, added[0].Name, added[0].Type, options), replaced, side) is { } cut)
                return cut;
        }
        return Checked(new BatchedOnnxStep(onnx, batched, input, inputName, added[0].Name, added[0].Type, options), replaced, side);
    }

    private static BatchedOnnxStep? Checked(BatchedOnnxStep step, ITransformer replaced, int side)
    {
        if (ScoresAlike(replaced, step, step.Input, side))
            return step;
        step.ReleaseSessions();
        return null;
    }

    // The graph inside the step, as ML.NET saves it: an int32 length and the ONNX model's bytes.
    private static byte[]? SavedGraph(OnnxTransformer onnx)
    {
        using var zip = new MemoryStream();
        new MLContext().Model.Save(onnx, null, zip);
        zip.Position = 0;
        using var archive = new ZipArchive(zip, ZipArchiveMode.Read);
        var entry = archive.Entries.SingleOrDefault(e => e.FullName.EndsWith("/OnnxModel", StringComparison.Ordinal));
        if (entry is null)
            return null;
        using var reader = new BinaryReader(entry.Open());
        var length = reader.ReadInt32();
        var bytes = reader.ReadBytes(length);
        return bytes.Length == length && length > 0 ? bytes : null;
    }

    // The replaced steps and the batched one score a few probe rows (more than one batch when batches are small);
    // only exactly equal values keep the replacement.
    private static bool ScoresAlike(ITransformer replaced, BatchedOnnxStep step, ModelInput input, int side)
    {
        var images = new List<MLImage>();
        try
        {
            // Each gets images of its own: ML.NET's image steps may release an image once read.
            var expected = replaced.Transform(Probe(input, side, images)).GetColumn<float[]>(step.OutputColumnName).ToArray();
            var actual = step.Transform(Probe(input, side, images)).GetColumn<float[]>(step.OutputColumnName).ToArray();
            return expected.Length == ProbeRows && actual.Length == ProbeRows && expected.Zip(actual).All(pair => pair.First.AsSpan().SequenceEqual(pair.Second));
        }
        finally
        {
            foreach (var image in images)
                image.Dispose();
        }
    }

    // Rows of random pixels (the same for every call) in the column the input reads.
    private static IDataView Probe(ModelInput input, int side, List<MLImage> images)
    {
        var random = new Random(17);
        if (input is ImageInput)
        {
            var rows = Enumerable.Range(0, ProbeRows).Select(_ =>
            {
                var rgba = new byte[side * side * 4];
                random.NextBytes(rgba);
                var image = MLImage.CreateFromPixels(side, side, MLPixelFormat.Rgba32, rgba);
                images.Add(image);
                return image;
            }).ToArray();
            return new ProbeDataView<MLImage>(input.ColumnName, new ImageDataViewType(side, side), rows, image => image);
        }
        var vectors = Enumerable.Range(0, ProbeRows)
            .Select(_ => new VBuffer<float>(3 * side * side, Enumerable.Range(0, 3 * side * side).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray()))
            .ToArray();
        return new ProbeDataView<VBuffer<float>>(input.ColumnName, new VectorDataViewType(NumberDataViewType.Single, 3, side, side), vectors, vector =>
        {
            VBuffer<float> copy = default;
            vector.CopyTo(ref copy);
            return copy;
        });
    }
}
