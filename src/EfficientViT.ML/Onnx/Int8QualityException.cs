namespace EfficientViT.ML.Onnx;

/// <summary>
/// No int8 graph met <see cref="Int8QualityOptions"/>' target on the held-out images; <see cref="Report"/>
/// holds every graph tried. Set <see cref="Int8QualityOptions.AcceptBelowTarget"/> to keep the best one
/// anyway, lower the target, or calibrate on more images like the ones the model will see.
/// </summary>
public sealed class Int8QualityException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="report"/>.</summary>
    public Int8QualityException(Int8QualityReport report)
        : base(Describe(report)) => Report = report;

    /// <summary>The figures of every graph tried.</summary>
    public Int8QualityReport Report { get; }

    private static string Describe(Int8QualityReport report) =>
        $"No int8 graph kept the float32 features ({report.Target}) on {report.HoldoutImages} images held out of the calibration " +
        $"({report.CalibrationImages} calibration images): {string.Join("; ", report.Tried)}. " +
        "Calibrate on more images like the ones the model will see, lower the target (MinimumMeanCosine, MinimumLowestCosine), " +
        "set AcceptBelowTarget to keep the best graph anyway, or keep the model float32.";
}
