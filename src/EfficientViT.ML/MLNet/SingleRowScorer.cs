using System.Diagnostics;
using EfficientViT.ML.Acceleration;
using Microsoft.ML.OnnxRuntime;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Scores one model input per call for row-by-row prediction (<c>PredictionEngine</c>), with as little
/// around the network as possible: each <see cref="Slot"/> owns its input and output buffers, bound to ONNX
/// Runtime once, so a call copies nothing and allocates nothing but what ONNX Runtime does inside.
/// </summary>
/// <remarks>
/// The scorer's sessions serve every slot (ONNX Runtime runs concurrent calls on one session). With a thread count
/// there is one session; without, there are two, one thread and every core, and each call runs on the one a <see cref="ThreadCountWatcher"/>
/// names, timing it: one small image is a few hundred small operations, and for the smaller variants sharing
/// each between cores costs more than it saves (on 2 cores, M0 at 224×224 is faster on one thread, M4 on two);
/// and when another process takes a core, every-core calls collapse (ONNX Runtime's workers wait for the one
/// that lost its core: an M4 int8 call took 3× as long beside one busy thread), which the watcher notices
/// within a few calls, as the trainer's does for its steps.
/// </remarks>
internal sealed class SingleRowScorer : IDisposable
{
    private readonly InferenceSession[] sessions;
    private readonly int[] threadCounts;
    private readonly ThreadCountWatcher? watcher;
    private readonly Lock watcherLock = new();
    private readonly string inputName;
    private readonly string outputName;
    private readonly long[] inputShape;

    public SingleRowScorer(byte[] batchedGraph, string inputName, string outputName, int? intraOpThreads, OnnxDevice device)
    {
        this.inputName = inputName;
        this.outputName = outputName;
        threadCounts = intraOpThreads is not null || Environment.ProcessorCount == 1 ? [intraOpThreads ?? 1] : [1, Environment.ProcessorCount];
        sessions = threadCounts.Select(count => Open(batchedGraph, count, device)).ToArray();
        if (sessions.Length > 1)
            watcher = new ThreadCountWatcher(threadCounts);
        inputShape = [1, .. sessions[0].InputMetadata[inputName].Dimensions.Skip(1).Select(d => (long)d)];
        InputSize = (int)inputShape.Aggregate(1L, (a, b) => a * b);
        OutputSize = sessions[0].OutputMetadata[outputName].Dimensions[^1];
    }

    /// <summary>Floats per input item.</summary>
    public int InputSize { get; }

    /// <summary>Floats per output item.</summary>
    public int OutputSize { get; }

    /// <summary>Buffers for one reader of rows (not shared between threads).</summary>
    public Slot NewSlot() => new(this);

    /// <summary>The intra-op thread count the next call runs at.</summary>
    internal int ThreadsForNextCall
    {
        get
        {
            lock (watcherLock)
                return watcher?.ThreadsForNextStep ?? threadCounts[0];
        }
    }

    public void Dispose()
    {
        foreach (var session in sessions)
            session.Dispose();
    }

    // Runs one call on the session the watcher names and tells it how long the call took.
    private void Run(RunOptions runOptions, string[] inputNames, OrtValue[] inputs, string[] outputNames, OrtValue[] outputs)
    {
        if (watcher is null)
        {
            sessions[0].Run(runOptions, inputNames, inputs, outputNames, outputs);
            return;
        }
        var threads = ThreadsForNextCall;
        var start = Stopwatch.GetTimestamp();
        sessions[Array.IndexOf(threadCounts, threads)].Run(runOptions, inputNames, inputs, outputNames, outputs);
        var elapsed = Stopwatch.GetElapsedTime(start);
        lock (watcherLock)
        {
            // Concurrent calls may have moved the watcher on: a call timed at another count than it names now is not its pace.
            if (watcher.ThreadsForNextStep == threads)
                watcher.Report(elapsed);
        }
    }

    private static InferenceSession Open(byte[] graph, int threads, OnnxDevice device)
    {
        using var options = device.NewSessionOptions();
        options.IntraOpNumThreads = threads;
        return new InferenceSession(graph, options);
    }

    /// <summary>An input and an output buffer bound to the scorer's sessions.</summary>
    public sealed class Slot : IDisposable
    {
        private readonly SingleRowScorer scorer;
        private readonly OrtValue input;
        private readonly OrtValue output;
        private readonly RunOptions runOptions = new();
        private readonly string[] inputNames;
        private readonly string[] outputNames;

        internal Slot(SingleRowScorer scorer)
        {
            this.scorer = scorer;
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
        public void Run() => scorer.Run(runOptions, inputNames, [input], outputNames, [output]);

        public void Dispose()
        {
            input.Dispose();
            output.Dispose();
            runOptions.Dispose();
        }
    }
}
