namespace EfficientViT.ML.Data;

/// <summary>The crop box of torchvision's RandomResizedCrop.get_params, drawn from a <see cref="Random"/>.</summary>
internal static class RandomResizedCrop
{
    /// <summary>
    /// Up to ten tries of a box with area fraction in <paramref name="scale"/> and log-uniform aspect ratio
    /// (width/height) in <paramref name="ratio"/> that fits the image; otherwise the central crop with the
    /// ratio clamped into range.
    /// </summary>
    public static (int X, int Y, int Width, int Height) Sample(
        int width, int height, (double Min, double Max) scale, (double Min, double Max) ratio, Random random)
    {
        var area = (double)width * height;
        var logRatio = (Min: Math.Log(ratio.Min), Max: Math.Log(ratio.Max));
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var targetArea = area * random.Uniform(scale.Min, scale.Max);
            var aspect = Math.Exp(random.Uniform(logRatio.Min, logRatio.Max));
            // Math.Round rounds halves to even, like Python's round.
            var w = (int)Math.Round(Math.Sqrt(targetArea * aspect));
            var h = (int)Math.Round(Math.Sqrt(targetArea / aspect));
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                var y = random.Next(height - h + 1);
                var x = random.Next(width - w + 1);
                return (x, y, w, h);
            }
        }

        var inRatio = (double)width / height;
        int cropWidth, cropHeight;
        if (inRatio < ratio.Min)
        {
            cropWidth = width;
            cropHeight = Math.Max(1, (int)Math.Round(width / ratio.Min));
        }
        else if (inRatio > ratio.Max)
        {
            cropHeight = height;
            cropWidth = Math.Max(1, (int)Math.Round(height * ratio.Max));
        }
        else
        {
            cropWidth = width;
            cropHeight = height;
        }
        return ((width - cropWidth) / 2, (height - cropHeight) / 2, cropWidth, cropHeight);
    }
}
