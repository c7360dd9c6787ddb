using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Microsoft.ML.Transforms.Onnx;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Reads the EfficientViT steps of zips saved before networks carried their <see cref="ScoringContract"/> (versions up
/// to the one on ML.NET 5.0.1): what the contract now says is worked out from the saved graph and the chain around it.
/// </summary>
/// <remarks>
/// A network is taken for image input when its normalization is in the graph and the step before it is an
/// <c>ExtractPixels</c> of this library's column names (<c>EfficientVit_…_Resized</c> into <c>EfficientVit_…_Pixels</c>);
/// the resize side, which such a zip does not record, is found by resampling a probe image at each candidate side
/// (<see cref="LegacyPreprocessingCut"/>). Before the replacement is kept, both score the same probe rows, and it must
/// give exactly the replaced steps' values; otherwise the step stays as ML.NET loaded it.
/// </remarks>
internal static class LegacyZipReader
{
    private const string PixelsSuffix = "Pixels";
    private const string ResizedSuffix = "Resized";
    private const string ColumnPrefix = "EfficientVit_";
    private const int ProbeRows = 3;

    /// <summary>The batched step for <paramref name="onnx"/>, whose network is <paramref name="graph"/>, or null when it is not recognised for certain.</summary>
    public static BatchedOnnxStep? TryBatch(OnnxTransformer onnx, byte[] graph, ITransformer? previous, BatchedScoringOptions options)
    {
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
            input = new ImageInput(resized, resized, new ImageResampler(side, side));
        }
        else
        {
            input = new PixelVectorInput(inputName, inputName, side);
        }

        (string Name, DataViewType Type) output;
        try
        {
            output = BatchedScoring.OutputColumn(onnx, inputName, side);
        }
        catch (InvalidDataException)
        {
            return null;
        }
        var batched = RowGraphBatching.Batched(graph, out _);
        if (batched is null)
            return null;

        var replaced = pixelsInGraph ? new TransformerChain<ITransformer>(previous!, onnx) : (ITransformer)onnx;
        // As the fitted featurizer scores: resampled in managed code, the rest of the graph in ONNX Runtime.
        if (pixelsInGraph && LegacyPreprocessingCut.TryCut(batched, inputName, side) is var (cutGraph, resampler))
        {
            var resampling = new ImageInput(input.ColumnName, input.UserColumn, resampler);
            if (Checked(new BatchedOnnxStep(onnx, cutGraph, resampling, inputName, output.Name, output.Type, options, "legacy"), replaced, side) is { } cut)
                return cut;
        }
        return Checked(new BatchedOnnxStep(onnx, batched, input, inputName, output.Name, output.Type, options, "legacy"), replaced, side);
    }

    private static BatchedOnnxStep? Checked(BatchedOnnxStep step, ITransformer replaced, int side)
    {
        if (ScoresAlike(replaced, step, step.Input, side))
            return step;
        step.ReleaseSessions();
        return null;
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
            return new LegacyProbeDataView<MLImage>(input.ColumnName, new ImageDataViewType(side, side), rows, image => image);
        }
        var vectors = Enumerable.Range(0, ProbeRows)
            .Select(_ => new VBuffer<float>(3 * side * side, Enumerable.Range(0, 3 * side * side).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray()))
            .ToArray();
        return new LegacyProbeDataView<VBuffer<float>>(input.ColumnName, new VectorDataViewType(NumberDataViewType.Single, 3, side, side), vectors, vector =>
        {
            VBuffer<float> copy = default;
            vector.CopyTo(ref copy);
            return copy;
        });
    }
}
