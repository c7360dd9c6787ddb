namespace EfficientViT.ML.Data;

/// <summary>
/// Bilinear resampling of 8-bit HWC images with half-pixel centres (output pixel k samples the source at
/// (k + 0.5) · in/out − 0.5, clamped to the edge), as OpenCV's INTER_LINEAR and PyTorch's
/// interpolate(align_corners=False) do. There is no antialiasing: a strong downscale skips pixels.
/// Results are rounded to bytes, as resizing a PIL image does.
/// </summary>
internal static class BilinearResize
{
    /// <summary>Resizes a whole image to <paramref name="outWidth"/>×<paramref name="outHeight"/>.</summary>
    public static byte[] Resize(ReadOnlySpan<byte> source, int width, int height, int channels, int outWidth, int outHeight) =>
        Sample(source, width, height, channels, 0, 0, width, height, outWidth, outHeight, 0, 0, outWidth, outHeight);

    /// <summary>
    /// Resizes the region (<paramref name="regionX"/>, <paramref name="regionY"/>, <paramref name="regionWidth"/>,
    /// <paramref name="regionHeight"/>) of the source to <paramref name="scaledWidth"/>×<paramref name="scaledHeight"/>
    /// and returns the <paramref name="outWidth"/>×<paramref name="outHeight"/> window of that result starting at
    /// (<paramref name="offsetX"/>, <paramref name="offsetY"/>): crop, resize and crop again in one pass.
    /// Sampling is clamped to the region, as if it had been cut out first.
    /// </summary>
    public static byte[] Sample(
        ReadOnlySpan<byte> source, int width, int height, int channels,
        int regionX, int regionY, int regionWidth, int regionHeight,
        int scaledWidth, int scaledHeight,
        int offsetX, int offsetY, int outWidth, int outHeight)
    {
        ResizeRegion.Check(width, height, regionX, regionY, regionWidth, regionHeight, scaledWidth, scaledHeight, offsetX, offsetY, outWidth, outHeight);

        var columns = Taps(regionX, regionWidth, scaledWidth, offsetX, outWidth);
        var rows = Taps(regionY, regionHeight, scaledHeight, offsetY, outHeight);
        var output = new byte[outWidth * outHeight * channels];
        var rowStride = width * channels;
        for (var oy = 0; oy < outHeight; oy++)
        {
            var top = rows.First[oy] * rowStride;
            var bottom = rows.Second[oy] * rowStride;
            var wy = rows.Weight[oy];
            var outRow = oy * outWidth * channels;
            for (var ox = 0; ox < outWidth; ox++)
            {
                var left = columns.First[ox] * channels;
                var right = columns.Second[ox] * channels;
                var wx = columns.Weight[ox];
                for (var c = 0; c < channels; c++)
                {
                    var upper = source[top + left + c] + wx * (source[top + right + c] - source[top + left + c]);
                    var lower = source[bottom + left + c] + wx * (source[bottom + right + c] - source[bottom + left + c]);
                    var value = upper + wy * (lower - upper);
                    output[outRow + ox * channels + c] = (byte)Math.Clamp((int)(value + 0.5f), 0, 255);
                }
            }
        }
        return output;
    }

    /// <summary>
    /// For each output position along one axis: the two source indices it blends and the weight of the second.
    /// </summary>
    private static (int[] First, int[] Second, float[] Weight) Taps(int start, int length, int scaled, int offset, int count)
    {
        var first = new int[count];
        var second = new int[count];
        var weight = new float[count];
        var step = (double)length / scaled;
        for (var k = 0; k < count; k++)
        {
            // Half-pixel centres; positions left of the first pixel's centre take the first pixel.
            var position = Math.Max((k + offset + 0.5) * step - 0.5, 0.0);
            var index = (int)position;
            if (index >= length - 1)
            {
                first[k] = second[k] = start + length - 1;
                weight[k] = 0f;
            }
            else
            {
                first[k] = start + index;
                second[k] = start + index + 1;
                weight[k] = (float)(position - index);
            }
        }
        return (first, second, weight);
    }
}
