using System.Globalization;

namespace EfficientViT.ML.Onnx;

/// <summary>
/// How an int8 graph compares with float32 on images held out of its calibration, which graph was kept,
/// and every graph tried on the way.
/// </summary>
public sealed class Int8QualityReport
{
    internal Int8QualityReport(Int8QualityMeasurement kept, IReadOnlyList<Int8QualityMeasurement> tried, Int8QualityOptions target,
        int calibrationImages, int holdoutImages)
    {
        Kept = kept;
        Tried = tried;
        MinimumMeanCosine = target.MinimumMeanCosine;
        MinimumLowestCosine = target.MinimumLowestCosine;
        CalibrationImages = calibrationImages;
        HoldoutImages = holdoutImages;
    }

    /// <summary>The graph kept and its figures.</summary>
    public Int8QualityMeasurement Kept { get; }

    /// <summary>Every graph measured, in the order tried (the kept one among them).</summary>
    public IReadOnlyList<Int8QualityMeasurement> Tried { get; }

    /// <summary>The mean cosine the target asked for.</summary>
    public double MinimumMeanCosine { get; }

    /// <summary>The lowest single-image cosine the target asked for.</summary>
    public double MinimumLowestCosine { get; }

    /// <summary>Images the activation ranges were measured on.</summary>
    public int CalibrationImages { get; }

    /// <summary>Images held out of the calibration that the figures were measured on.</summary>
    public int HoldoutImages { get; }

    /// <summary>The mean feature cosine of the kept graph.</summary>
    public double MeanCosine => Kept.MeanCosine;

    /// <summary>The lowest feature cosine of the kept graph.</summary>
    public double LowestCosine => Kept.LowestCosine;

    /// <summary>The kept graph's top-1 agreement with float32; null without a classification head.</summary>
    public double? Top1Agreement => Kept.Top1Agreement;

    /// <summary>"plain", or the repair the kept graph was made with.</summary>
    public string Repair => Kept.Graph;

    /// <summary>True when the kept graph meets the target.</summary>
    public bool MeetsTarget => Meets(Kept, MinimumMeanCosine, MinimumLowestCosine);

    internal static bool Meets(Int8QualityMeasurement measurement, double mean, double lowest) =>
        measurement.MeanCosine >= mean && measurement.LowestCosine >= lowest;

    /// <summary>The target in one phrase.</summary>
    public string Target => string.Create(CultureInfo.InvariantCulture, $"mean cosine ≥ {MinimumMeanCosine:0.####}, lowest ≥ {MinimumLowestCosine:0.####}");

    /// <summary>One line: the kept graph's figures, the images they were measured on, and the target.</summary>
    public override string ToString() =>
        $"int8 against float32 on {HoldoutImages} held-out images (calibrated on {CalibrationImages}): {Kept} " +
        $"({(MeetsTarget ? "meets" : "BELOW")} the target, {Target})";
}
