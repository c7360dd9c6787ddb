namespace EfficientViT.ML.Data;

/// <summary>
/// timm's RandomErasing in mode 'pixel' with one box: with some probability, a box of 2%–33% of the image
/// with aspect ratio in [0.3, 1/0.3] is filled with independent standard-normal values in every channel
/// (the image is already normalized, so this is noise of the data's own scale).
/// </summary>
internal static class RandomErasing
{
    private const double MinArea = 0.02;
    private const double MaxArea = 1.0 / 3.0;
    private static readonly double LogMinAspect = Math.Log(0.3);
    private static readonly double LogMaxAspect = Math.Log(1.0 / 0.3);

    /// <summary>Erases one box of a normalized CHW image with probability <paramref name="probability"/>.</summary>
    public static void Apply(Span<float> chw, int channels, int height, int width, double probability, Random random)
    {
        if (probability <= 0 || random.NextDouble() >= probability)
            return;
        var area = (double)height * width;
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var targetArea = random.Uniform(MinArea, MaxArea) * area;
            var aspect = Math.Exp(random.Uniform(LogMinAspect, LogMaxAspect));
            var h = (int)Math.Round(Math.Sqrt(targetArea * aspect));
            var w = (int)Math.Round(Math.Sqrt(targetArea / aspect));
            if (w < width && h < height)
            {
                var top = random.Next(height - h + 1);
                var left = random.Next(width - w + 1);
                var noise = new float[channels * h * w];
                random.FillGaussian(noise);
                for (var c = 0; c < channels; c++)
                for (var y = 0; y < h; y++)
                    noise.AsSpan((c * h + y) * w, w).CopyTo(chw.Slice(c * height * width + (top + y) * width + left, w));
                return;
            }
        }
    }
}
