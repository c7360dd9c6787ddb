namespace EfficientViT.ML.Onnx;

/// <summary>
/// What an int8 graph must keep of the float32 one, measured by <see cref="Int8Quantizer"/> on images held
/// out of the calibration: the cosine similarity of each image's int8 features with its float32 features.
/// </summary>
/// <example>
/// <code>
/// // Accept a looser graph, with a warning instead of an exception when even the repairs miss it.
/// var quality = new Int8QualityOptions { MinimumMeanCosine = 0.98, AcceptBelowTarget = true };
/// Int8Quantization int8 = Int8Quantizer.Quantize(model, images, exportOptions, quality: quality);
/// Console.WriteLine(int8.Quality);
/// </code>
/// </example>
public sealed class Int8QualityOptions
{
    /// <summary>The lowest mean feature cosine over the held-out images that passes. Default 0.99.</summary>
    public double MinimumMeanCosine { get; set; } = 0.99;

    /// <summary>The lowest feature cosine of any one held-out image that passes. Default 0.95.</summary>
    public double MinimumLowestCosine { get; set; } = 0.95;

    /// <summary>
    /// When the plain graph misses the target, try the repairs (bias correction, the residual stream float,
    /// then leaving float the convolutions that cost the most) and keep the first that meets it. Default true.
    /// </summary>
    public bool Repair { get; set; } = true;

    /// <summary>
    /// When no graph meets the target: keep the best one and report a warning (true), or refuse with an
    /// <see cref="Int8QualityException"/> that gives the figures (false, the default).
    /// </summary>
    public bool AcceptBelowTarget { get; set; }

    /// <summary>Refuses <paramref name="quality"/> set without int8, or with a target outside [-1, 1], naming <paramref name="component"/>.</summary>
    internal static void Check(Int8QualityOptions? quality, string component, bool int8)
    {
        if (quality is null)
            return;
        if (!int8)
            throw new ArgumentException($"{component}: Int8Quality is set but Quantization is None; set Quantization to Int8 or leave Int8Quality null.", "options");
        try
        {
            quality.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentOutOfRangeException("options", $"{component}: Int8Quality.{e.ParamName}: {e.Message}");
        }
    }

    internal void Validate()
    {
        if (!(MinimumMeanCosine is >= -1 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(MinimumMeanCosine), MinimumMeanCosine, "A cosine target lies in [-1, 1].");
        if (!(MinimumLowestCosine is >= -1 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(MinimumLowestCosine), MinimumLowestCosine, "A cosine target lies in [-1, 1].");
    }
}
