using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Scores one model input per call for row-by-row prediction (<c>PredictionEngine</c>), with as little
/// around the network as possible: each <see cref="Slot"/> owns its input and output buffers, bound to ONNX
/// Runtime once, so a call copies nothing and allocates nothing but what ONNX Runtime does inside.
/// </summary>
/// <remarks>
/// One session serves every slot (ONNX Runtime runs concurrent calls on one session). Without a thread count
/// it runs on one thread or on every core, whichever scored a probe image faster when it was made: one small
/// image is a few hundred small operations, and for the smaller variants sharing each between cores costs more
/// than it saves (on 2 cores, M0 at 224×224 is faster on one thread, M4 on two).
/// </remarks>
internal sealed class SingleRowScorer : IDisposable
{
    private const int ProbeRounds = 3;
    private const int ProbeRunsPerRound = 8;

    private readonly InferenceSession session;
    private readonly string inputName;
    private readonly string outputName;
    private readonly long[] inputShape;

    public SingleRowScorer(byte[] batchedGraph, string inputName, string outputName, int? intraOpThreads, OnnxDevice device)
    {
        this.inputName = inputName;
        this.outputName = outputName;
        InferenceSession[] candidates = intraOpThreads is not null || Environment.ProcessorCount == 1
            ? [Open(batchedGraph, intraOpThreads, device)]
            : [Open(batchedGraph, 1, device), Open(batchedGraph, null, device)];
        inputShape = [1, .. candidates[0].InputMetadata[inputName].Dimensions.Skip(1).Select(d => (long)d)];
        InputSize = (int)inputShape.Aggregate(1L, (a, b) => a * b);
        OutputSize = candidates[0].OutputMetadata[outputName].Dimensions[^1];
        var fastest = Fastest(candidates);
        foreach (var other in candidates.Where((_, i) => i != fastest))
            other.Dispose();
        session = candidates[fastest];
    }

    /// <summary>Floats per input item.</summary>
    public int InputSize { get; }

    /// <summary>Floats per output item.</summary>
    public int OutputSize { get; }

    /// <summary>Buffers for one reader of rows (not shared between threads).</summary>
    public Slot NewSlot() => new(this, session);

    public void Dispose() => session.Dispose();

    private static InferenceSession Open(byte[] graph, int? threads, OnnxDevice device)
    {
        using var options = device.NewSessionOptions();
        if (threads is { } count)
            options.IntraOpNumThreads = count;
        return new InferenceSession(graph, options);
    }

    // The index of the session that scores a probe image (zeros) fastest, timed in alternating rounds.
    private int Fastest(InferenceSession[] candidates)
    {
        if (candidates.Length == 1)
            return 0;
        var slots = candidates.Select(candidate => new Slot(this, candidate)).ToArray();
        try
        {
            var best = new double[candidates.Length];
            Array.Fill(best, double.MaxValue);
            foreach (var slot in slots)
                slot.Run();
            for (var round = 0; round < ProbeRounds; round++)
            {
                for (var i = 0; i < slots.Length; i++)
                {
                    var watch = Stopwatch.StartNew();
                    for (var run = 0; run < ProbeRunsPerRound; run++)
                        slots[i].Run();
                    best[i] = Math.Min(best[i], watch.Elapsed.TotalMilliseconds);
                }
            }
            return Array.IndexOf(best, best.Min());
        }
        finally
        {
            foreach (var slot in slots)
                slot.Dispose();
        }
    }

    /// <summary>An input and an output buffer bound to the session.</summary>
    public sealed class Slot : IDisposable
    {
        private readonly InferenceSession session;
        private readonly OrtValue input;
        private readonly OrtValue output;
        private readonly RunOptions runOptions = new();
        private readonly string[] inputNames;
        private readonly string[] outputNames;

        internal Slot(SingleRowScorer scorer, InferenceSession session)
        {
            this.session = session;
            Input = new float[scorer.InputSize];
            Output = new float[scorer.OutputSize];
            input = OrtValue.CreateTensorValueFromMemory(Input, scorer.inputShape);
            output = OrtValue.CreateTensorValueFromMemory(Output, [1, scorer.OutputSize]);
            inputNames = [scorer.inputName];
            outputNames = [scorer.outputName];
        }

        /// <summary>Where the caller writes the model input.</summary>
        public float[] Input { get; }

        /// <summary>Where <see cref="Run"/> leaves the output.</summary>
        public float[] Output { get; }

        /// <summary>Scores <see cref="Input"/> into <see cref="Output"/>.</summary>
        public void Run() => session.Run(runOptions, inputNames, [input], outputNames, [output]);

        public void Dispose()
        {
            input.Dispose();
            output.Dispose();
            runOptions.Dispose();
        }
    }
}
