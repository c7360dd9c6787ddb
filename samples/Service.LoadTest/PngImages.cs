using System.Runtime.InteropServices;
using EfficientViT.ML.Data;
using SkiaSharp;

namespace EfficientViT.Service.LoadTest;

/// <summary>Image files in memory for requests: Fashion-MNIST samples as PNG.</summary>
public static class PngImages
{
    /// <summary>A grayscale sample as an 8-bit grayscale PNG file.</summary>
    public static byte[] Encode(ImageSample sample)
    {
        if (sample.Channels != 1)
            throw new ArgumentException($"expected a grayscale sample, found {sample.Channels} channels ({sample.Source})", nameof(sample));
        using var bitmap = new SKBitmap(new SKImageInfo(sample.Width, sample.Height, SKColorType.Gray8, SKAlphaType.Opaque));
        if (bitmap.RowBytes != sample.Width)
            throw new InvalidOperationException($"a {sample.Width}-pixel grayscale row takes {bitmap.RowBytes} bytes");
        Marshal.Copy(sample.Pixels, 0, bitmap.GetPixels(), sample.Pixels.Length);
        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
