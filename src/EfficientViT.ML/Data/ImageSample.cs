using Microsoft.ML.Data;

namespace EfficientViT.ML.Data;

/// <summary>
/// One decoded image with its label: 8-bit pixels in row-major height × width × channels order
/// (grayscale, or RGB with red first).
/// </summary>
public sealed record ImageSample
{
    /// <summary>Creates a sample, checking that the pixel buffer matches the stated size.</summary>
    /// <param name="pixels">Row-major HWC pixels; the sample keeps the array, it does not copy it.</param>
    /// <param name="width">Width in pixels.</param>
    /// <param name="height">Height in pixels.</param>
    /// <param name="channels">1 (grayscale) or 3 (RGB).</param>
    /// <param name="label">Class index into the data set's class names.</param>
    /// <param name="source">Where the sample came from (a file path, or e.g. "fashion-mnist train #12"), for error messages.</param>
    public ImageSample(byte[] pixels, int width, int height, int channels, int label, string source)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(source);
        if (width <= 0 || height <= 0)
            throw new ArgumentException($"{source}: image size must be positive; found {width}x{height}.");
        if (channels is not (1 or 3))
            throw new ArgumentException($"{source}: images have 1 (grayscale) or 3 (RGB) channels; found {channels}.");
        if (pixels.Length != (long)width * height * channels)
            throw new ArgumentException($"{source}: {width}x{height}x{channels} needs {(long)width * height * channels} bytes; found {pixels.Length}.");
        Pixels = pixels;
        Width = width;
        Height = height;
        Channels = channels;
        Label = label;
        Source = source;
    }

    /// <summary>Row-major HWC pixels, 8 bits per channel.</summary>
    public byte[] Pixels { get; }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>1 for grayscale, 3 for RGB.</summary>
    public int Channels { get; }

    /// <summary>Class index into the data set's <see cref="IImageDataset.ClassNames"/>.</summary>
    public int Label { get; }

    /// <summary>Where the sample came from, for error messages: a file path or e.g. "fashion-mnist train #12".</summary>
    public string Source { get; }

    /// <summary>The same label and source with other pixels (what the augmentations produce).</summary>
    /// <param name="pixels">Row-major HWC pixels with this sample's channel count.</param>
    /// <param name="width">The new width.</param>
    /// <param name="height">The new height.</param>
    public ImageSample WithPixels(byte[] pixels, int width, int height) =>
        new(pixels, width, height, Channels, Label, Source);

    /// <summary>
    /// This image as an ML.NET <see cref="MLImage"/> (RGBA, opaque; grayscale is copied to R, G and B), for
    /// <c>mlContext.Data.LoadFromEnumerable</c> rows or to save it with <see cref="MLImage.Save(string)"/>.
    /// </summary>
    public MLImage ToMLImage()
    {
        var pixelCount = Width * Height;
        var rgba = new byte[pixelCount * 4];
        for (var i = 0; i < pixelCount; i++)
        {
            var source = i * Channels;
            rgba[i * 4] = Pixels[source];
            rgba[i * 4 + 1] = Pixels[source + (Channels == 3 ? 1 : 0)];
            rgba[i * 4 + 2] = Pixels[source + (Channels == 3 ? 2 : 0)];
            rgba[i * 4 + 3] = 255;
        }
        return MLImage.CreateFromPixels(Width, Height, MLPixelFormat.Rgba32, rgba);
    }
}
