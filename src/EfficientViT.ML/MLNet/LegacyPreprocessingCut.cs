using System.Buffers.Binary;
using EfficientViT.ML.Onnx;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// For zips saved before the scoring contract (see <see cref="LegacyZipReader"/>): splits a saved image graph where the fitted featurizer splits its work: the bicubic resize, crop and
/// mean subtraction (up to the exporter's <c>Sub</c> of <c>normalize_mean</c>) go to managed code, a
/// <see cref="ImageResampler"/> that computes the same whole pixel values while the batches before are
/// scored, and ONNX Runtime scores only the rest of the graph, which is then the fitted featurizer's own.
/// </summary>
/// <remarks>
/// The zip does not record the resize side; it is found by resampling a probe image at each candidate side
/// and keeping the one whose pixels equal those the graph computes.
/// </remarks>
internal static class LegacyPreprocessingCut
{
    private const string MeanInitializer = "normalize_mean";

    /// <summary>The graph from the mean-subtracted pixels on, read from <paramref name="inputName"/>, and the resampler that makes them; or null.</summary>
    public static (byte[] Graph, ImageResampler Resampler)? TryCut(byte[] batchedGraph, string inputName, int side)
    {
        var graph = RowGraphBatching.GraphFields(batchedGraph);
        var nodes = graph.Where(f => f.Number == RowGraphBatching.GraphNode).Select(f => RowGraphBatching.Node.Parse(f.Payload)).ToList();
        var mean = graph.Where(f => f.Number == RowGraphBatching.GraphInitializer).Select(f => ProtobufReader.Fields(f.Payload))
            .FirstOrDefault(t => t.FirstOrDefault(p => p.Number == RowGraphBatching.TensorName).Text == MeanInitializer) is { } tensor ? Floats(tensor) : null;
        var subtract = nodes.Where(n => n is { OpType: "Sub", Inputs.Count: 2, Outputs.Count: 1 } && n.Inputs[1] == MeanInitializer).ToList();
        if (mean is not { Length: 3 } || subtract.Count != 1)
            return null;
        var resampled = subtract[0].Outputs[0];
        var resizeSide = FindResizeSide(WithOutput(batchedGraph, resampled, inputName), inputName, resampled, side, mean);
        if (resizeSide is null)
            return null;
        return (RowGraphBatching.StartingAt(batchedGraph, resampled, inputName), new ImageResampler(side, resizeSide.Value, mean));
    }

    // float_data (field 4, packed) or raw_data (field 9, little-endian).
    private static float[]? Floats(List<ProtobufReader.Field> tensor)
    {
        var raw = tensor.FirstOrDefault(f => f.Number == 9);
        if (!raw.Encoded.IsEmpty)
            return Enumerable.Range(0, raw.Payload.Length / 4).Select(i => BinaryPrimitives.ReadSingleLittleEndian(raw.Payload.Span[(4 * i)..])).ToArray();
        var packed = tensor.FirstOrDefault(f => f.Number == 4 && f.WireType == 2);
        return packed.Encoded.IsEmpty ? null : Enumerable.Range(0, packed.Payload.Length / 4).Select(i => BinaryPrimitives.ReadSingleLittleEndian(packed.Payload.Span[(4 * i)..])).ToArray();
    }

    // The side the graph resizes to: the one at which the resampler gives the graph's own pixels for a random image.
    private static int? FindResizeSide(byte[] probeGraph, string inputName, string resampled, int side, float[] mean)
    {
        var random = new Random(23);
        var rgba = new byte[side * side * 4];
        random.NextBytes(rgba);
        using var image = MLImage.CreateFromPixels(side, side, MLPixelFormat.Rgba32, rgba);
        var planes = new float[3 * side * side];
        // The graph's input: the image's pixels 0-255 as planes, as ExtractPixels gives them.
        var planesOnly = new ImageResampler(side, side);
        planesOnly.Write(image, planes, new ImageResampler.Scratch(planesOnly));
        float[] expected;
        using (var options = new SessionOptions { IntraOpNumThreads = 1 })
        using (var session = new InferenceSession(probeGraph, options))
        using (var input = OrtValue.CreateTensorValueFromMemory(planes, [1, 3, side, side]))
        using (var runOptions = new RunOptions())
        using (var outputs = session.Run(runOptions, [inputName], [input], [resampled]))
            expected = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        if (expected.Length != planes.Length)
            return null;
        var actual = new float[planes.Length];
        // ImageNet's 0.875 first, then every side up to twice the crop.
        var first = (int)Math.Floor(side / 0.875);
        foreach (var candidate in new[] { first }.Concat(Enumerable.Range(side, side + 1).Where(r => r != first)))
        {
            var resampler = new ImageResampler(side, candidate, mean);
            resampler.Write(image, actual, new ImageResampler.Scratch(resampler));
            if (actual.AsSpan().SequenceEqual(expected))
                return candidate;
        }
        return null;
    }

    // The graph with `value` as an extra output (typed as the input: float, batch x 3 x S x S).
    private static byte[] WithOutput(byte[] model, string value, string inputName) => RowGraphBatching.Rewrite(model, (graph, writer) =>
    {
        foreach (var field in graph)
            writer.WriteRaw(field.Encoded.Span);
        var input = graph.First(f => f.Number == RowGraphBatching.GraphInput && RowGraphBatching.Value.Parse(f.Payload).Name == inputName);
        var type = ProtobufReader.Fields(input.Payload).First(f => f.Number == RowGraphBatching.ValueType);
        writer.WriteMessage(RowGraphBatching.GraphOutput, output =>
        {
            output.WriteString(RowGraphBatching.ValueName, value);
            output.WriteRaw(type.Encoded.Span);
        });
    });
}
