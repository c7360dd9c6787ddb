namespace EfficientViT.ML.Data;

/// <summary>Decoding of image files (through <see cref="StraightAlphaDecoder"/>, i.e. SkiaSharp) and the corrupt-file check.</summary>
internal static class ImageFiles
{
    private static readonly HashSet<string> Extensions =
        new(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".bmp", ".webp" };

    /// <summary>Whether the file name has one of the image extensions the file data sets read (case-insensitive).</summary>
    public static bool IsImageFile(string path) => Extensions.Contains(Path.GetExtension(path));

    /// <summary>Decodes an image file to RGB bytes: the stored colour, with alpha dropped (as PIL's <c>convert('RGB')</c>).</summary>
    /// <exception cref="InvalidDataException">The file cannot be read, or is not a complete image (truncated, corrupt); the message names it.</exception>
    public static ImageSample Decode(string path, int label)
    {
        RgbaPixels decoded;
        try
        {
            decoded = StraightAlphaDecoder.DecodeFile(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"cannot decode image '{path}': {e.Message}", e);
        }

        using (decoded)
        {
            int width = decoded.Width, height = decoded.Height;
            var source = decoded.Span;
            var rgb = new byte[width * height * 3];
            for (var i = 0; i < width * height; i++)
            {
                rgb[3 * i] = source[4 * i];
                rgb[3 * i + 1] = source[4 * i + 1];
                rgb[3 * i + 2] = source[4 * i + 2];
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
