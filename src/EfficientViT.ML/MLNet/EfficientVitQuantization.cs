namespace EfficientViT.ML.MLNet;

/// <summary>The number format the featurizer's ONNX network computes in.</summary>
public enum EfficientVitQuantization
{
    /// <summary>float32 throughout.</summary>
    None,

    /// <summary>
    /// Static int8: int8 weights and uint8 activations in the convolutions, with activation ranges calibrated
    /// on <see cref="EfficientVitFeaturizerOptions.CalibrationData"/> when the featurizer is fitted (see
    /// docs/guide/int8.md for what it costs in accuracy and gains in speed).
    /// </summary>
    Int8,
}
