using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.Data;

/// <summary>
/// PIL's <c>Image.resize</c> of 8-bit HWC images with a filter (<see cref="ImageInterpolation"/>): separable, the
/// horizontal pass first and then the vertical one, each pass rounded half up to whole values and clipped to
/// 0–255, with the fixed-point weights of <see cref="ResampleWeights"/> (antialiased when shrinking). Integer
/// arithmetic on those weights is exact, so the result is the featurizer's and the exported graph's for the same
/// resize.
/// </summary>
internal static class FilteredResize
{
    private const int Half = 1 << (ResampleWeights.FractionBits - 1);

    /// <summary>
    /// Resizes the region (<paramref name="regionX"/>, <paramref name="regionY"/>, <paramref name="regionWidth"/>,
    /// <paramref name="regionHeight"/>) of the source to <paramref name="scaledWidth"/>×<paramref name="scaledHeight"/>
    /// and returns the <paramref name="outWidth"/>×<paramref name="outHeight"/> window of that result starting at
    /// (<paramref name="offsetX"/>, <paramref name="offsetY"/>), computing only that window: crop, resize and crop
    /// again, as if the region had been cut out first (taps stop at its edges).
    /// </summary>
    public static byte[] Sample(
        ReadOnlySpan<byte> source, int width, int height, int channels,
        int regionX, int regionY, int regionWidth, int regionHeight,
        int scaledWidth, int scaledHeight,
        int offsetX, int offsetY, int outWidth, int outHeight,
        ImageInterpolation interpolation)
    {
        ResizeRegion.Check(width, height, regionX, regionY, regionWidth, regionHeight, scaledWidth, scaledHeight, offsetX, offsetY, outWidth, outHeight);

        var columns = Taps(interpolation, regionWidth, scaledWidth, offsetX, outWidth);
        var rows = Taps(interpolation, regionHeight, scaledHeight, offsetY, outHeight);
        // The horizontal pass over the region's rows the vertical pass reads.
        var firstRow = rows.Min(taps => taps[0].Index);
        var rowCount = rows.Max(taps => taps[^1].Index) + 1 - firstRow;
        var resizedRows = new byte[rowCount * outWidth * channels];
        var rowStride = width * channels;
        for (var r = 0; r < rowCount; r++)
        {
            var sourceRow = (regionY + firstRow + r) * rowStride + regionX * channels;
            var outRow = r * outWidth * channels;
            for (var x = 0; x < outWidth; x++)
            {
                var taps = columns[x];
                for (var c = 0; c < channels; c++)
                {
                    var sum = Half;
                    foreach (var (index, weight) in taps)
                        sum += weight * source[sourceRow + index * channels + c];
                    resizedRows[outRow + x * channels + c] = ToPixel(sum);
                }
            }
        }
        var output = new byte[outWidth * outHeight * channels];
        var lineLength = outWidth * channels;
        var sums = new int[lineLength];
        for (var y = 0; y < outHeight; y++)
        {
            Array.Fill(sums, Half);
            // Row by row of the taps, so that each pass over a line reads memory in order.
            foreach (var (index, weight) in rows[y])
            {
                var line = resizedRows.AsSpan((index - firstRow) * lineLength, lineLength);
                for (var i = 0; i < lineLength; i++)
                    sums[i] += weight * line[i];
            }
            for (var i = 0; i < lineLength; i++)
                output[y * lineLength + i] = ToPixel(sums[i]);
        }
        return output;
    }

    // Per output pixel of the window, its taps along one axis with the weights as whole multiples of 2^−FractionBits.
    private static (int Index, int Weight)[][] Taps(ImageInterpolation interpolation, int input, int scaled, int offset, int count) =>
        Enumerable.Range(offset, count)
            .Select(o => ResampleWeights.Taps(interpolation, input, scaled, o).Select(t => (t.Index, (int)(t.Weight * (1 << ResampleWeights.FractionBits)))).ToArray())
            .ToArray();

    private static byte ToPixel(int sum) => (byte)Math.Clamp(sum >> ResampleWeights.FractionBits, 0, 255);
}
