using Microsoft.ML.OnnxRuntime;

namespace EfficientViT.ML.Featurization;

/// <summary>
/// ONNX Runtime sessions over the exported graph that score many images per call: the batching that
/// ML.NET's own ONNX scoring (one row at a time) cannot do. Thread-safe, as ONNX Runtime sessions are.
/// </summary>
/// <remarks>
/// ONNX Runtime's workers spin between operations by default, which makes a graph of many small operations
/// about a fifth faster, but takes the cores from any thread working beside it. So there are two sessions,
/// each made when first needed: one that spins, for calls that run alone, and one whose workers sleep, for
/// calls that overlap the reading of the next batch. Both run the same kernels on the same threads' share
/// of the work, so they give the same features.
/// </remarks>
internal sealed class OnnxFeatureSession : IFeatureScorer
{
    private readonly string inputName;
    private readonly string outputName;
    private readonly long[] itemShape;
    private readonly Lazy<InferenceSession> spinning;
    private readonly Lazy<InferenceSession> sleeping;

    public OnnxFeatureSession(byte[] model, string inputName, string outputName, int? threads)
    {
        spinning = new Lazy<InferenceSession>(() => Create(model, threads, spin: true), LazyThreadSafetyMode.ExecutionAndPublication);
        sleeping = new Lazy<InferenceSession>(() => Create(model, threads, spin: false), LazyThreadSafetyMode.ExecutionAndPublication);
        this.inputName = inputName;
        this.outputName = outputName;
        var session = spinning.Value;
        itemShape = session.InputMetadata[inputName].Dimensions.Skip(1).Select(d => (long)d).ToArray();
        FeatureSize = session.OutputMetadata[outputName].Dimensions[^1];
        InputSize = (int)itemShape.Aggregate(1L, (a, b) => a * b);
    }

    private static InferenceSession Create(byte[] model, int? threads, bool spin)
    {
        using var options = new SessionOptions();
        if (threads is { } count)
            options.IntraOpNumThreads = count;
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", spin ? "1" : "0");
        return new InferenceSession(model, options);
    }

    /// <summary>Floats per input item (3·S·S).</summary>
    public int InputSize { get; }

    /// <summary>Floats per output item.</summary>
    public int FeatureSize { get; }

    /// <inheritdoc/>
    public void Run(float[] inputs, int count, float[] features, bool alone)
    {
        var shape = new long[itemShape.Length + 1];
        shape[0] = count;
        itemShape.CopyTo(shape, 1);
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, inputs.AsMemory(0, count * InputSize), shape);
        using var runOptions = new RunOptions();
        var session = alone ? spinning.Value : sleeping.Value;
        using var outputs = session.Run(runOptions, [inputName], [input], [outputName]);
        outputs[0].GetTensorDataAsSpan<float>()[..(count * FeatureSize)].CopyTo(features);
    }

    public void Dispose()
    {
        if (spinning.IsValueCreated)
            spinning.Value.Dispose();
        if (sleeping.IsValueCreated)
            sleeping.Value.Dispose();
    }
}
