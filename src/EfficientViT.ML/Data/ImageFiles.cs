using Microsoft.ML.Data;

namespace EfficientViT.ML.Data;

/// <summary>Decoding of image files (through ML.NET's <see cref="MLImage"/>, i.e. SkiaSharp) and the corrupt-file check.</summary>
internal static class ImageFiles
{
    private static readonly HashSet<string> Extensions =
        new(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".bmp", ".webp" };

    /// <summary>Whether the file name has one of the image extensions the file data sets read (case-insensitive).</summary>
    public static bool IsImageFile(string path) => Extensions.Contains(Path.GetExtension(path));

    /// <summary>Decodes an image file to RGB bytes (alpha is dropped).</summary>
    /// <exception cref="InvalidDataException">The file cannot be read or decoded; the message names it.</exception>
    public static ImageSample Decode(string path, int label)
    {
        MLImage image;
        try
        {
            image = MLImage.CreateFromFile(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // SkiaSharp reports undecodable data as a bare ArgumentException; name the file for the user.
            throw new InvalidDataException($"cannot decode image '{path}': {e.Message}", e);
        }

        using (image)
        {
            int red, blue;
            switch (image.PixelFormat)
            {
                case MLPixelFormat.Rgba32: (red, blue) = (0, 2); break;
                case MLPixelFormat.Bgra32: (red, blue) = (2, 0); break;
                default: throw new InvalidDataException($"cannot decode image '{path}': unsupported pixel format {image.PixelFormat}.");
            }

            int width = image.Width, height = image.Height;
            var source = image.Pixels;
            // Rows may in principle be padded, so the stride comes from the buffer rather than the width.
            var stride = source.Length / height;
            if (stride < width * 4)
                throw new InvalidDataException($"cannot decode image '{path}': {source.Length} pixel bytes for {width}x{height}.");

            var rgb = new byte[width * height * 3];
            for (var y = 0; y < height; y++)
            {
                var row = source.Slice(y * stride, width * 4);
                var output = rgb.AsSpan(y * width * 3, width * 3);
                for (var x = 0; x < width; x++)
                {
                    output[3 * x] = row[4 * x + red];
                    output[3 * x + 1] = row[4 * x + 1];
                    output[3 * x + 2] = row[4 * x + blue];
                }
            }
            return new ImageSample(rgb, width, height, 3, label, path);
        }
    }

    /// <summary>
    /// Decodes every file once (in parallel) and keeps those that decode, in their original order. Each
    /// dropped file is reported through <paramref name="warn"/>, in order, and added to <paramref name="skipped"/>.
    /// </summary>
    public static List<(string Path, int Label)> DropUnreadable(
        IReadOnlyList<(string Path, int Label)> files, Action<string>? warn, List<string> skipped)
    {
        var errors = new string?[files.Count];
        Parallel.For(0, files.Count, i =>
        {
            try
            {
                Decode(files[i].Path, files[i].Label);
            }
            catch (InvalidDataException e)
            {
                // The path is in the warning already; keep only the decoder's reason.
                errors[i] = e.InnerException?.Message ?? e.Message;
            }
        });

        // Warnings are given after the parallel check so that they come in file order, on the caller's thread.
        var kept = new List<(string Path, int Label)>(files.Count);
        for (var i = 0; i < files.Count; i++)
        {
            if (errors[i] is null)
            {
                kept.Add(files[i]);
                continue;
            }
            skipped.Add(files[i].Path);
            warn?.Invoke($"skipping unreadable image '{files[i].Path}': {errors[i]}");
        }
        return kept;
    }
}
