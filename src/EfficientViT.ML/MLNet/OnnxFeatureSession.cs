using System.Collections.Concurrent;
using Microsoft.ML.OnnxRuntime;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// ONNX Runtime sessions over the exported graph that score many images per call: the batching that
/// ML.NET's own ONNX scoring (one row at a time) cannot do. Thread-safe: each call takes a session of its own.
/// </summary>
/// <remarks>
/// With <c>threads</c> = N there are up to N sessions of one thread each, made as concurrent calls need
/// them and sharing one copy of the prepacked weights. N batches scored side by side, one per core, run
/// at least as fast as one batch split over N cores (M0 0.99–1.52×, M4 1.00–1.33× on 2 cores, over the
/// featurizer benchmark's runs), and their threads never spin waiting for work, so the thread reading
/// the next batch keeps its share of the cores. Calls beyond N wait for a free session.
/// </remarks>
internal sealed class OnnxFeatureSession : IFeatureScorer
{
    private readonly byte[] model;
    private readonly OnnxDevice device;
    private readonly string inputName;
    private readonly string outputName;
    private readonly long[] itemShape;
    private readonly PrePackedWeightsContainer sharedWeights = new();
    private readonly ConcurrentBag<InferenceSession> idle = [];
    private readonly ConcurrentQueue<InferenceSession> all = new();
    private readonly SemaphoreSlim available;

    public OnnxFeatureSession(byte[] model, string inputName, string outputName, int? threads, OnnxDevice device)
    {
        this.model = model;
        this.device = device;
        this.inputName = inputName;
        this.outputName = outputName;
        Concurrency = Math.Max(1, threads ?? Environment.ProcessorCount);
        available = new SemaphoreSlim(Concurrency, Concurrency);
        var first = Create();
        idle.Add(first);
        itemShape = first.InputMetadata[inputName].Dimensions.Skip(1).Select(d => (long)d).ToArray();
        FeatureSize = first.OutputMetadata[outputName].Dimensions[^1];
        InputSize = (int)itemShape.Aggregate(1L, (a, b) => a * b);
    }

    /// <summary>How many calls run at once.</summary>
    public int Concurrency { get; }

    /// <summary>Floats per input item (3·S·S).</summary>
    public int InputSize { get; }

    /// <summary>Floats per output item.</summary>
    public int FeatureSize { get; }

    private InferenceSession Create()
    {
        using var options = device.NewSessionOptions();
        options.IntraOpNumThreads = 1;
        options.InterOpNumThreads = 1;
        var session = new InferenceSession(model, options, sharedWeights);
        all.Enqueue(session);
        return session;
    }

    /// <summary>Scores <paramref name="count"/> items laid out one after another in <paramref name="inputs"/>, writing count·FeatureSize floats to <paramref name="features"/>.</summary>
    public void Run(float[] inputs, int count, float[] features)
    {
        available.Wait();
        var session = idle.TryTake(out var free) ? free : Create();
        try
        {
            var shape = new long[itemShape.Length + 1];
            shape[0] = count;
            itemShape.CopyTo(shape, 1);
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, inputs.AsMemory(0, count * InputSize), shape);
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, [inputName], [input], [outputName]);
            outputs[0].GetTensorDataAsSpan<float>()[..(count * FeatureSize)].CopyTo(features);
        }
        finally
        {
            idle.Add(session);
            available.Release();
        }
    }

    public void Dispose()
    {
        foreach (var session in all)
            session.Dispose();
        sharedWeights.Dispose();
        available.Dispose();
    }
}
