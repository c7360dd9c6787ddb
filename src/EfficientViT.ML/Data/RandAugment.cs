namespace EfficientViT.ML.Data;

/// <summary>
/// RandAugment as timm's "rand-m9-mstd0.5-inc1" configures it: for each image, <see cref="NumOps"/> operations
/// are drawn (with replacement) from <see cref="RandAugmentOp"/>; each is applied with probability
/// <see cref="Probability"/>, at a magnitude drawn from N(<see cref="Magnitude"/>, <see cref="MagnitudeStd"/>²)
/// clipped to [0, 10], with timm's "increasing" scales (a larger magnitude is always a stronger change) and a
/// random sign for the signed operations. Geometric operations sample bilinearly and fill with <see cref="Fill"/>.
/// Immutable; safe to share between threads.
/// </summary>
public sealed class RandAugment
{
    private const double MaxMagnitude = 10.0;
    private static readonly RandAugmentOp[] AllOps = Enum.GetValues<RandAugmentOp>();

    /// <summary>Creates the policy; the defaults are timm's rand-m9-mstd0.5-inc1.</summary>
    /// <param name="numOps">Operations per image.</param>
    /// <param name="magnitude">Mean magnitude, 0–10.</param>
    /// <param name="magnitudeStd">Standard deviation of the per-operation magnitude (0: always <paramref name="magnitude"/>).</param>
    /// <param name="probability">Probability that a drawn operation is applied (timm's default 0.5).</param>
    /// <param name="fill">Gray level of the area that rotations, shears and shifts uncover.</param>
    public RandAugment(int numOps = 2, double magnitude = 9, double magnitudeStd = 0.5, double probability = 0.5, byte fill = 128)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(numOps);
        if (magnitude is < 0 or > MaxMagnitude)
            throw new ArgumentOutOfRangeException(nameof(magnitude), magnitude, "must be in [0, 10]");
        ArgumentOutOfRangeException.ThrowIfNegative(magnitudeStd);
        if (probability is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "must be in [0, 1]");
        NumOps = numOps;
        Magnitude = magnitude;
        MagnitudeStd = magnitudeStd;
        Probability = probability;
        Fill = fill;
    }

    /// <summary>Operations drawn per image.</summary>
    public int NumOps { get; }

    /// <summary>Mean magnitude, 0–10.</summary>
    public double Magnitude { get; }

    /// <summary>Standard deviation of each operation's magnitude.</summary>
    public double MagnitudeStd { get; }

    /// <summary>Probability that a drawn operation is applied.</summary>
    public double Probability { get; }

    /// <summary>Fill value for uncovered areas.</summary>
    public byte Fill { get; }

    /// <summary>The operations drawn from.</summary>
    internal static IReadOnlyList<RandAugmentOp> Ops => AllOps;

    /// <summary>Augments one image; all randomness comes from <paramref name="random"/>.</summary>
    /// <returns>A new sample (the input is not modified) with the same size, channels, label and source.</returns>
    public ImageSample Apply(ImageSample image, Random random)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(random);
        // timm draws all operations first, then runs each.
        var ops = new RandAugmentOp[NumOps];
        for (var i = 0; i < ops.Length; i++)
            ops[i] = AllOps[random.Next(AllOps.Length)];

        foreach (var op in ops)
        {
            if (Probability < 1 && random.NextDouble() > Probability)
                continue;
            var magnitude = MagnitudeStd > 0 ? Magnitude + MagnitudeStd * random.NextGaussian() : Magnitude;
            image = ApplyOp(op, image, Math.Clamp(magnitude, 0, MaxMagnitude), random, Fill);
        }
        return image;
    }

    /// <summary>One operation at a given magnitude (0–10), with timm's increasing scales.</summary>
    internal static ImageSample ApplyOp(RandAugmentOp op, ImageSample image, double magnitude, Random random, byte fill)
    {
        var level = magnitude / MaxMagnitude;
        return op switch
        {
            RandAugmentOp.Identity => image,
            RandAugmentOp.AutoContrast => PixelOps.AutoContrast(image),
            RandAugmentOp.Equalize => PixelOps.Equalize(image),
            RandAugmentOp.Rotate => AffineOps.Rotate(image, Signed(level * 30, random), fill),
            RandAugmentOp.Solarize => PixelOps.Solarize(image, 256 - (int)(level * 256)),
            RandAugmentOp.Posterize => PixelOps.Posterize(image, 4 - (int)(level * 4)),
            RandAugmentOp.Color => PixelOps.Color(image, EnhanceFactor(level, random)),
            RandAugmentOp.Contrast => PixelOps.Contrast(image, EnhanceFactor(level, random)),
            RandAugmentOp.Brightness => PixelOps.Brightness(image, EnhanceFactor(level, random)),
            RandAugmentOp.Sharpness => PixelOps.Sharpness(image, EnhanceFactor(level, random)),
            RandAugmentOp.ShearX => AffineOps.ShearX(image, Signed(level * 0.3, random), fill),
            RandAugmentOp.ShearY => AffineOps.ShearY(image, Signed(level * 0.3, random), fill),
            RandAugmentOp.TranslateX => AffineOps.Translate(image, Signed(level * 0.45, random) * image.Width, 0, fill),
            RandAugmentOp.TranslateY => AffineOps.Translate(image, 0, Signed(level * 0.45, random) * image.Height, fill),
            _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown operation"),
        };
    }

    /// <summary>timm's _randomly_negate.</summary>
    private static double Signed(double value, Random random) => random.NextDouble() > 0.5 ? -value : value;

    /// <summary>timm's _enhance_increasing_level_to_arg: a blend factor 1 ± 0.9·level, at least 0.1.</summary>
    private static double EnhanceFactor(double level, Random random) => Math.Max(0.1, 1.0 + Signed(level * 0.9, random));
}
