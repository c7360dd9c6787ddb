namespace EfficientViT.ML.Training;

/// <summary>The pasted rectangle of a cutmix: rows [Top, Bottom) and columns [Left, Right).</summary>
internal readonly record struct CutmixBox(int Top, int Bottom, int Left, int Right)
{
    /// <summary>Pixels inside the box.</summary>
    public int Area => (Bottom - Top) * (Right - Left);

    /// <summary>
    /// The box timm's cutmix draws for mixing weight <paramref name="lambda"/>: sides √(1 − λ) of the
    /// image's (truncated to whole pixels), centred on a uniformly random pixel, clipped to the image.
    /// </summary>
    public static CutmixBox Draw(int height, int width, double lambda, Random random)
    {
        var ratio = Math.Sqrt(1 - lambda);
        var cutHeight = (int)(height * ratio);
        var cutWidth = (int)(width * ratio);
        var centerY = random.Next(height);
        var centerX = random.Next(width);
        return new CutmixBox(
            Math.Clamp(centerY - cutHeight / 2, 0, height),
            Math.Clamp(centerY + cutHeight / 2, 0, height),
            Math.Clamp(centerX - cutWidth / 2, 0, width),
            Math.Clamp(centerX + cutWidth / 2, 0, width));
    }
}
