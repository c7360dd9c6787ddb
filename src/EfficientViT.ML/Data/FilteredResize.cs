using System.Numerics;
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

        var columns = new AxisTaps(interpolation, regionWidth, scaledWidth, offsetX, outWidth);
        var rows = new AxisTaps(interpolation, regionHeight, scaledHeight, offsetY, outHeight);
        // The horizontal pass over the region's rows the vertical pass reads.
        var firstRow = rows.First[0];
        var rowCount = rows.First[^1] + rows.Count[^1] - firstRow;
        var lineLength = outWidth * channels;
        // Whole pixel values, held as ints for the vertical pass's vector arithmetic.
        var resizedRows = new int[rowCount * lineLength];
        for (var r = 0; r < rowCount; r++)
        {
            var sourceRow = source.Slice((regionY + firstRow + r) * width * channels + regionX * channels, regionWidth * channels);
            var line = resizedRows.AsSpan(r * lineLength, lineLength);
            if (channels == 3)
                ResizeRgbRow(sourceRow, line, columns);
            else
                ResizeGrayRow(sourceRow, line, columns);
        }
        var output = new byte[outHeight * lineLength];
        var lineSums = new int[lineLength];
        var vectorEnd = lineLength - lineLength % Vector<int>.Count;
        for (var y = 0; y < outHeight; y++)
        {
            Array.Fill(lineSums, Half);
            // Row by row of the taps, so that each pass over a line reads memory in order.
            var taps = rows.Weights.AsSpan(rows.Offset[y], rows.Count[y]);
            for (var t = 0; t < taps.Length; t++)
            {
                var line = resizedRows.AsSpan((rows.First[y] + t - firstRow) * lineLength, lineLength);
                var weight = new Vector<int>(taps[t]);
                for (var i = 0; i < vectorEnd; i += Vector<int>.Count)
                    (new Vector<int>(lineSums.AsSpan(i)) + weight * new Vector<int>(line[i..])).CopyTo(lineSums.AsSpan(i));
                for (var i = vectorEnd; i < lineLength; i++)
                    lineSums[i] += taps[t] * line[i];
            }
            var outputLine = output.AsSpan(y * lineLength, lineLength);
            for (var i = 0; i < lineLength; i++)
                outputLine[i] = (byte)ToPixel(lineSums[i]);
        }
        return output;
    }

    // One row of RGB pixels along the columns' taps, the three channels summed side by side.
    private static void ResizeRgbRow(ReadOnlySpan<byte> row, Span<int> line, AxisTaps columns)
    {
        for (var x = 0; x < columns.First.Length; x++)
        {
            var (red, green, blue) = (Half, Half, Half);
            var taps = columns.Weights.AsSpan(columns.Offset[x], columns.Count[x]);
            var pixels = row.Slice(columns.First[x] * 3, taps.Length * 3);
            for (var t = 0; t < taps.Length; t++)
            {
                red += taps[t] * pixels[3 * t];
                green += taps[t] * pixels[3 * t + 1];
                blue += taps[t] * pixels[3 * t + 2];
            }
            line[3 * x] = ToPixel(red);
            line[3 * x + 1] = ToPixel(green);
            line[3 * x + 2] = ToPixel(blue);
        }
    }

    private static void ResizeGrayRow(ReadOnlySpan<byte> row, Span<int> line, AxisTaps columns)
    {
        for (var x = 0; x < columns.First.Length; x++)
        {
            var sum = Half;
            var taps = columns.Weights.AsSpan(columns.Offset[x], columns.Count[x]);
            var pixels = row.Slice(columns.First[x], taps.Length);
            for (var t = 0; t < taps.Length; t++)
                sum += taps[t] * pixels[t];
            line[x] = ToPixel(sum);
        }
    }

    // Per output pixel of the window along one axis: its first input pixel, how many it reads, and where its weights
    // (whole multiples of 2^−FractionBits, as integers) start in Weights.
    private sealed class AxisTaps
    {
        public AxisTaps(ImageInterpolation interpolation, int input, int scaled, int offset, int count)
        {
            var taps = Enumerable.Range(offset, count).Select(o => ResampleWeights.Taps(interpolation, input, scaled, o)).ToArray();
            First = taps.Select(t => t[0].Index).ToArray();
            Count = taps.Select(t => t.Length).ToArray();
            Offset = new int[count];
            for (var o = 1; o < count; o++)
                Offset[o] = Offset[o - 1] + Count[o - 1];
            Weights = taps.SelectMany(t => t.Select(tap => (int)(tap.Weight * (1 << ResampleWeights.FractionBits)))).ToArray();
        }

        public int[] First { get; }

        public int[] Count { get; }

        public int[] Offset { get; }

        public int[] Weights { get; }
    }

    private static int ToPixel(int sum) => Math.Clamp(sum >> ResampleWeights.FractionBits, 0, 255);
}
