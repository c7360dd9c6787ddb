using Microsoft.ML.OnnxRuntime;

namespace EfficientViT.ML.Featurization;

/// <summary>
/// An ONNX Runtime session over the exported graph that scores many images per call: the batching
/// that ML.NET's own ONNX scoring (one row at a time) cannot do. Thread-safe, as ONNX Runtime
/// sessions are.
/// </summary>
internal sealed class OnnxFeatureSession : IFeatureScorer
{
    private readonly InferenceSession session;
    private readonly string inputName;
    private readonly string outputName;
    private readonly long[] itemShape;

    public OnnxFeatureSession(byte[] model, string inputName, string outputName, int? threads)
    {
        using var options = new SessionOptions();
        if (threads is { } count)
            options.IntraOpNumThreads = count;
        // While a batch is scored, another thread reads and preprocesses the next one; ONNX Runtime's idle
        // workers spinning for work would take the core it needs (measured: 5-9% more images/s without spinning).
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        session = new InferenceSession(model, options);
        this.inputName = inputName;
        this.outputName = outputName;
        itemShape = session.InputMetadata[inputName].Dimensions.Skip(1).Select(d => (long)d).ToArray();
        FeatureSize = session.OutputMetadata[outputName].Dimensions[^1];
        InputSize = (int)itemShape.Aggregate(1L, (a, b) => a * b);
    }

    /// <summary>Floats per input item (3·S·S).</summary>
    public int InputSize { get; }

    /// <summary>Floats per output item.</summary>
    public int FeatureSize { get; }

    /// <summary>Scores <paramref name="count"/> items laid out one after another in <paramref name="inputs"/>, writing count·FeatureSize floats to <paramref name="features"/>.</summary>
    public void Run(float[] inputs, int count, float[] features)
    {
        var shape = new long[itemShape.Length + 1];
        shape[0] = count;
        itemShape.CopyTo(shape, 1);
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, inputs.AsMemory(0, count * InputSize), shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [inputName], [input], [outputName]);
        outputs[0].GetTensorDataAsSpan<float>()[..(count * FeatureSize)].CopyTo(features);
    }

    public void Dispose() => session.Dispose();
}
