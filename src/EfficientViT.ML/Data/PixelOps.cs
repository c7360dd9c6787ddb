namespace EfficientViT.ML.Data;

/// <summary>
/// Colour operations on 8-bit HWC images, as PIL's ImageOps and ImageEnhance compute them (which timm's
/// RandAugment uses). Each returns a new sample and leaves its input unchanged.
/// </summary>
internal static class PixelOps
{
    /// <summary>Maps each channel through its own 256-entry table built from the channel's histogram.</summary>
    private static ImageSample PerChannel(ImageSample image, Func<int[], byte[]> tableFromHistogram)
    {
        var channels = image.Channels;
        var tables = new byte[channels][];
        for (var c = 0; c < channels; c++)
        {
            var histogram = new int[256];
            for (var i = c; i < image.Pixels.Length; i += channels)
                histogram[image.Pixels[i]]++;
            tables[c] = tableFromHistogram(histogram);
        }
        var output = new byte[image.Pixels.Length];
        for (var i = 0; i < output.Length; i++)
            output[i] = tables[i % channels][image.Pixels[i]];
        return image.WithPixels(output, image.Width, image.Height);
    }

    /// <summary>Maps every channel value through one table.</summary>
    private static ImageSample Lookup(ImageSample image, Func<int, int> map)
    {
        var table = new byte[256];
        for (var v = 0; v < 256; v++)
            table[v] = (byte)Math.Clamp(map(v), 0, 255);
        var output = new byte[image.Pixels.Length];
        for (var i = 0; i < output.Length; i++)
            output[i] = table[image.Pixels[i]];
        return image.WithPixels(output, image.Width, image.Height);
    }

    /// <summary>ImageOps.autocontrast (no cutoff): each channel's darkest value becomes 0 and its brightest 255.</summary>
    public static ImageSample AutoContrast(ImageSample image) => PerChannel(image, histogram =>
    {
        var low = Array.FindIndex(histogram, n => n > 0);
        var high = Array.FindLastIndex(histogram, n => n > 0);
        var table = new byte[256];
        for (var v = 0; v < 256; v++)
        {
            if (high <= low)
            {
                table[v] = (byte)v;
                continue;
            }
            var scale = 255.0 / (high - low);
            table[v] = (byte)Math.Clamp((int)(v * scale - low * scale), 0, 255);
        }
        return table;
    });

    /// <summary>ImageOps.equalize: spreads each channel's histogram evenly over 0–255.</summary>
    public static ImageSample Equalize(ImageSample image) => PerChannel(image, histogram =>
    {
        var table = new byte[256];
        for (var v = 0; v < 256; v++)
            table[v] = (byte)v;
        var used = histogram.Where(n => n > 0).ToArray();
        if (used.Length <= 1)
            return table;
        // PIL leaves the last used value out of the step, so that the brightest pixels land on 255.
        var step = (used.Sum() - used[^1]) / 255;
        if (step == 0)
            return table;
        var n = step / 2;
        for (var v = 0; v < 256; v++)
        {
            table[v] = (byte)Math.Min(n / step, 255);
            n += histogram[v];
        }
        return table;
    });

    /// <summary>ImageOps.solarize: values at or above <paramref name="threshold"/> are inverted.</summary>
    public static ImageSample Solarize(ImageSample image, int threshold) =>
        Lookup(image, v => v >= threshold ? 255 - v : v);

    /// <summary>ImageOps.posterize: keeps the top <paramref name="bits"/> bits of each value (0–8).</summary>
    public static ImageSample Posterize(ImageSample image, int bits)
    {
        var mask = ~((1 << (8 - Math.Clamp(bits, 0, 8))) - 1) & 0xFF;
        return Lookup(image, v => v & mask);
    }

    /// <summary>ImageEnhance.Color: blends with the grayscale image (factor 0 = gray, 1 = unchanged). Grayscale images are unchanged.</summary>
    public static ImageSample Color(ImageSample image, double factor)
    {
        if (image.Channels == 1)
            return image;
        var gray = new byte[image.Pixels.Length];
        for (var i = 0; i < gray.Length; i += 3)
            gray[i] = gray[i + 1] = gray[i + 2] = Luma(image.Pixels, i);
        return Blend(gray, image, factor);
    }

    /// <summary>ImageEnhance.Contrast: blends with a flat image of the mean gray level.</summary>
    public static ImageSample Contrast(ImageSample image, double factor)
    {
        var pixelCount = image.Width * image.Height;
        long sum = 0;
        for (var i = 0; i < image.Pixels.Length; i += image.Channels)
            sum += image.Channels == 1 ? image.Pixels[i] : Luma(image.Pixels, i);
        var mean = (byte)(int)((double)sum / pixelCount + 0.5);
        var flat = new byte[image.Pixels.Length];
        Array.Fill(flat, mean);
        return Blend(flat, image, factor);
    }

    /// <summary>ImageEnhance.Brightness: blends with black.</summary>
    public static ImageSample Brightness(ImageSample image, double factor) =>
        Blend(new byte[image.Pixels.Length], image, factor);

    /// <summary>ImageEnhance.Sharpness: blends with the image smoothed by PIL's SMOOTH kernel (border pixels unsmoothed).</summary>
    public static ImageSample Sharpness(ImageSample image, double factor)
    {
        int width = image.Width, height = image.Height, channels = image.Channels;
        var source = image.Pixels;
        var smooth = (byte[])source.Clone();
        for (var y = 1; y < height - 1; y++)
        for (var x = 1; x < width - 1; x++)
        for (var c = 0; c < channels; c++)
        {
            // Kernel [[1,1,1],[1,5,1],[1,1,1]] / 13.
            var sum = 4 * source[(y * width + x) * channels + c];
            for (var dy = -1; dy <= 1; dy++)
            for (var dx = -1; dx <= 1; dx++)
                sum += source[((y + dy) * width + x + dx) * channels + c];
            smooth[(y * width + x) * channels + c] = (byte)((sum + 6) / 13);
        }
        return Blend(smooth, image, factor);
    }

    /// <summary>Image.blend(degenerate, image, factor) = degenerate + factor·(image − degenerate), clipped and truncated like PIL.</summary>
    private static ImageSample Blend(byte[] degenerate, ImageSample image, double factor)
    {
        var output = new byte[degenerate.Length];
        for (var i = 0; i < output.Length; i++)
        {
            var value = degenerate[i] + factor * (image.Pixels[i] - degenerate[i]);
            output[i] = value <= 0 ? (byte)0 : value >= 255 ? (byte)255 : (byte)value;
        }
        return image.WithPixels(output, image.Width, image.Height);
    }

    /// <summary>PIL's RGB → L conversion (ITU-R 601-2 luma in 16-bit fixed point) of the pixel starting at <paramref name="offset"/>.</summary>
    private static byte Luma(byte[] rgb, int offset) =>
        (byte)((rgb[offset] * 19595 + rgb[offset + 1] * 38470 + rgb[offset + 2] * 7471 + 0x8000) >> 16);
}
