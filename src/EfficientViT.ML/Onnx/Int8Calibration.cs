namespace EfficientViT.ML.Onnx;

/// <summary>
/// The activation ranges <see cref="Int8Calibrator"/> measured on calibration images: one per activation
/// that an int8 graph may quantize, in the order the exporter meets them. Pass it to
/// <see cref="OnnxInt8Options.Calibration"/> with the same model and export options it was measured with.
/// </summary>
/// <example>
/// <code>
/// Int8Calibration calibration = Int8Calibrator.Calibrate(model, calibrationImages);
/// var options = new OnnxExportOptions { Int8 = new OnnxInt8Options { Calibration = calibration } };
/// EfficientVitOnnxExporter.Export(model, "efficientvit_m4_int8.onnx", options);
/// </code>
/// </example>
public sealed class Int8Calibration
{
    /// <summary>Creates a calibration from ranges measured (or stored) before.</summary>
    /// <param name="variantName">The model variant the ranges belong to, e.g. "M4"; checked at export.</param>
    /// <param name="method">How the ranges were derived from the values.</param>
    /// <param name="ranges">One range per activation, in the exporter's order.</param>
    public Int8Calibration(string variantName, Int8CalibrationMethod method, IReadOnlyList<Int8ActivationRange> ranges)
    {
        ArgumentException.ThrowIfNullOrEmpty(variantName);
        ArgumentNullException.ThrowIfNull(ranges);
        VariantName = variantName;
        Method = method;
        Ranges = ranges.ToArray();
    }

    /// <summary>The model variant the ranges were measured on, e.g. "M4".</summary>
    public string VariantName { get; }

    /// <summary>How the ranges were derived from the values.</summary>
    public Int8CalibrationMethod Method { get; }

    /// <summary>One range per activation, in the order the exporter emits them.</summary>
    public IReadOnlyList<Int8ActivationRange> Ranges { get; }

    /// <summary>
    /// Per activation, the mean of each channel over the calibration images where the activation is a
    /// (batch, C, H, W) map (null for the others, and empty for ranges made without measuring): what
    /// <see cref="OnnxInt8Options.CorrectBias"/> needs.
    /// </summary>
    internal IReadOnlyList<float[]?> ChannelMeans { get; init; } = [];
}
