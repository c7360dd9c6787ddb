using Microsoft.ML.OnnxRuntime;

namespace EfficientViT.ML.Serving;

/// <summary>
/// Scores one model input per call for row-by-row prediction (<c>PredictionEngine</c>), with as little
/// around the network as possible: each <see cref="Slot"/> owns its input and output buffers, bound to ONNX
/// Runtime once, so a call copies nothing and allocates nothing but what ONNX Runtime does inside.
/// </summary>
/// <remarks>
/// One session serves every slot (ONNX Runtime runs concurrent calls on one session); it runs with ONNX
/// Runtime's default threads, as ML.NET's own ONNX scoring does, so that one image uses every core.
/// </remarks>
internal sealed class SingleRowScorer : IDisposable
{
    private readonly InferenceSession session;
    private readonly string inputName;
    private readonly string outputName;
    private readonly long[] inputShape;

    public SingleRowScorer(byte[] batchedGraph, string inputName, string outputName, int? intraOpThreads)
    {
        this.inputName = inputName;
        this.outputName = outputName;
        using var options = new SessionOptions();
        if (intraOpThreads is { } threads)
            options.IntraOpNumThreads = threads;
        session = new InferenceSession(batchedGraph, options);
        inputShape = [1, .. session.InputMetadata[inputName].Dimensions.Skip(1).Select(d => (long)d)];
        InputSize = (int)inputShape.Aggregate(1L, (a, b) => a * b);
        OutputSize = session.OutputMetadata[outputName].Dimensions[^1];
    }

    /// <summary>Floats per input item.</summary>
    public int InputSize { get; }

    /// <summary>Floats per output item.</summary>
    public int OutputSize { get; }

    /// <summary>Buffers for one reader of rows (not shared between threads).</summary>
    public Slot NewSlot() => new(this);

    public void Dispose() => session.Dispose();

    /// <summary>An input and an output buffer bound to the session.</summary>
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
        public void Run() => scorer.session.Run(runOptions, inputNames, [input], outputNames, [output]);

        public void Dispose()
        {
            input.Dispose();
            output.Dispose();
            runOptions.Dispose();
        }
    }
}
