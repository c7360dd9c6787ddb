using Microsoft.ML.OnnxRuntime;

namespace EfficientViT.ML.Onnx;

/// <summary>Runs a batched graph over images given one by one, a few per ONNX Runtime call.</summary>
internal static class OnnxImageBatches
{
    /// <summary>Images per ONNX Runtime call: a calibration graph's extra outputs of a batch are all in memory at once.</summary>
    public const int BatchSize = 8;

    /// <summary>Receives output <paramref name="output"/> (the index in the names asked for) of one batch, laid out as <paramref name="shape"/>.</summary>
    public delegate void ValuesHandler(int output, ReadOnlySpan<float> values, ReadOnlySpan<long> shape);

    /// <summary>
    /// Runs <paramref name="session"/> over <paramref name="images"/>, each (3, <paramref name="side"/>,
    /// <paramref name="side"/>), in order, and hands every batch's <paramref name="outputNames"/> to
    /// <paramref name="handle"/>.
    /// </summary>
    public static void Run(InferenceSession session, string inputName, IReadOnlyList<float[]> images, int side,
        string[] outputNames, ValuesHandler handle)
    {
        var imageLength = 3 * side * side;
        using var runOptions = new RunOptions();
        for (var start = 0; start < images.Count; start += BatchSize)
        {
            var count = Math.Min(BatchSize, images.Count - start);
            var batch = new float[count * imageLength];
            for (var i = 0; i < count; i++)
                images[start + i].CopyTo(batch, i * imageLength);
            using var input = OrtValue.CreateTensorValueFromMemory(batch, [count, 3, side, side]);
            using var outputs = session.Run(runOptions, [inputName], [input], outputNames);
            var k = 0;
            foreach (var output in outputs)
                handle(k++, output.GetTensorDataAsSpan<float>(), output.GetTensorTypeAndShape().Shape);
        }
    }
}
