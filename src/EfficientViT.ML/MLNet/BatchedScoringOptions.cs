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
    /// whichever scores a probe image faster on this machine (timed once, at the first prediction engine). Set 1 when
    /// many requests are scored at once: they keep the cores busy already.
    /// </summary>
    public int? RowThreads { get; set; }

    internal BatchedScoringOptions Copy() => (BatchedScoringOptions)MemberwiseClone();
}
