namespace EfficientViT.ML.Onnx;

/// <summary>How <see cref="Int8Calibrator"/> turns the values an activation took on the calibration images into its int8 range.</summary>
public enum Int8CalibrationMethod
{
    /// <summary>The lowest and highest value seen: nothing saturates, but one outlier widens every step.</summary>
    MinMax,

    /// <summary>
    /// The range is clipped symmetrically at the 99.99th percentile of |value| (never wider than min/max):
    /// rare outliers saturate so that the common values get finer steps.
    /// </summary>
    Percentile,

    /// <summary>
    /// The clipping threshold on |value| that minimizes the Kullback–Leibler divergence between the
    /// histogram of the values and its quantized version (TensorRT's entropy calibration).
    /// </summary>
    Entropy,
}
