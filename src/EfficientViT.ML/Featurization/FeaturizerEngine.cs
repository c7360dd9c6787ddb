namespace EfficientViT.ML.Featurization;

/// <summary>What scores the batches of an in-memory featurizer. A saved model always runs ML.NET's ONNX scoring.</summary>
public enum FeaturizerEngine
{
    /// <summary>ONNX Runtime on the exported graph: the fastest on CPU, and the same network a saved model runs.</summary>
    OnnxRuntime,

    /// <summary>TorchSharp on the BN-fused model: for parity checks, and for GPUs through libtorch.</summary>
    TorchSharp,
}
