using System.Runtime.InteropServices;
using EfficientViT.ML.Data;
using SkiaSharp;

namespace EfficientViT.Service.LoadTest;

/// <summary>Image files in memory for requests: Fashion-MNIST samples as PNG or JPEG.</summary>
public static class PngImages
{
    /// <summary>A grayscale sample as an 8-bit grayscale PNG file.</summary>
    public static byte[] Encode(ImageSample sample) => Encode(sample, SKEncodedImageFormat.Png);

    /// <summary>A grayscale sample as a JPEG file (quality 90).</summary>
    public static byte[] EncodeJpeg(ImageSample sample) => Encode(sample, SKEncodedImageFormat.Jpeg);

    private static byte[] Encode(ImageSample sample, SKEncodedImageFormat format)
    {
        if (sample.Channels != 1)
            throw new ArgumentException($"expected a grayscale sample, found {sample.Channels} channels ({sample.Source})", nameof(sample));
        using var bitmap = new SKBitmap(new SKImageInfo(sample.Width, sample.Height, SKColorType.Gray8, SKAlphaType.Opaque));
        if (bitmap.RowBytes != sample.Width)
            throw new InvalidOperationException($"a {sample.Width}-pixel grayscale row takes {bitmap.RowBytes} bytes");
        Marshal.Copy(sample.Pixels, 0, bitmap.GetPixels(), sample.Pixels.Length);
        using var image = SKImage.FromBitmap(bitmap);
        using var file = image.Encode(format, format == SKEncodedImageFormat.Png ? 100 : 90);
        return file.ToArray();
    }
}
