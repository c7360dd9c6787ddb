namespace EfficientViT.ML.MLNet;

/// <summary>How a model loaded with <c>LoadWithBatchedScoring</c> scores its EfficientViT steps.</summary>
public sealed class BatchedScoringOptions
{
    /// <summary>Images scored together by ONNX Runtime during <c>Transform</c>. Default 16.</summary>
    public int BatchSize { get; set; } = 16;

    /// <summary>How many batches <c>Transform</c> scores at once, each in a one-thread ONNX Runtime session; null: one per core.</summary>
    public int? Threads { get; set; }

    /// <summary>
    /// ONNX Runtime's threads for one image scored alone (a <c>PredictionEngine</c>); null: one thread or one per core,
    /// whichever scores faster on this machine, timed on the calls themselves and timed again when calls slow down
    /// (another process taking a core makes every-core calls collapse). Set 1 when many requests are scored at
    /// once: they keep the cores busy already.
    /// </summary>
    public int? RowThreads { get; set; }

    /// <summary>The CUDA device the ONNX Runtime sessions run on (ML.NET's name); null: the MLContext's <c>GpuDeviceId</c> (by default the CPU). Needs Microsoft.ML.OnnxRuntime.Gpu; untested.</summary>
    public int? GpuDeviceId { get; set; }

    /// <summary>When <see cref="GpuDeviceId"/> cannot be used: score on the CPU (true), or refuse (false); null: the MLContext's <c>FallbackToCpu</c>.</summary>
    public bool? FallbackToCpu { get; set; }

    /// <summary>
    /// The most bytes the network of one ONNX step of the zip may take, checked by the sizes the zip declares before
    /// anything is inflated or written (ML.NET reads each network whole and copies it to a temp file). Default 512 MiB;
    /// EfficientViT-M5's network takes about 50 MB.
    /// </summary>
    public long MaxOnnxModelBytes { get; set; } = DefaultMaxOnnxModelBytes;

    internal const long DefaultMaxOnnxModelBytes = 512L << 20;

    /// <summary>The device the settings resolve to (set when the model is loaded).</summary>
    internal OnnxDevice Device { get; set; } = OnnxDevice.Cpu;

    internal BatchedScoringOptions Copy() => (BatchedScoringOptions)MemberwiseClone();
}
