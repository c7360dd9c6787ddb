using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EfficientViT.ML.Preprocessing;
using Microsoft.ML.Data;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// The featurizer's second resize step in managed code, for in-memory scoring: an S×S image upsampled to
/// R×R with the filter the preprocessing record names (PIL's bicubic or bilinear weights, see
/// <see cref="ImageInterpolation"/>), center-cropped back to S×S, and written as R, G and B planes of whole
/// pixel values (or only split into planes when R = S), less the normalization's 255·mean per channel.
/// Columns go first and each pass is rounded, as PIL does for 8-bit images and as the saved graph does;
/// the fixed-point weights make the results identical (see <see cref="ResampleWeights"/>), so an
/// in-memory and a saved featurizer give the same features.
/// </summary>
/// <remarks>Immutable and shared; each reader brings its own <see cref="Scratch"/>.</remarks>
internal sealed class ImageResampler
{
    private readonly int side;
    private readonly bool resizes;
    // Subtracted from the final whole pixel values, in float32 as the graph's Sub does: the same results.
    private readonly float[] pixelMean;
    // Output pixel o (the same on both axes) reads input pixels First[o] .. First[o] + Count[o] − 1
    // with the weights Weights[Offset[o] ..].
    private readonly int[] first;
    private readonly int[] count;
    private readonly int[] offset;
    private readonly float[] weights;
    // The input rows the second (vertical) pass reads; the first pass computes only these.
    private readonly int firstRow;
    private readonly int rowCount;
    // When the weights repeat every 8 outputs (224 -> 256), the first pass computes 8 outputs at once:
    // lane φ of PhaseKernel[j] is the weight of input Start + j (within the period) for output φ.
    private readonly ResampleWeights.Polyphase? polyphase;
    private readonly Vector256<float>[] phaseKernel = [];

    /// <param name="side">The image side S, in and out.</param>
    /// <param name="resizeSize">The side R of the resize whose center is kept.</param>
    /// <param name="pixelMean">Subtracted from each channel's whole pixel values (255·mean); null: nothing.</param>
    /// <param name="interpolation">The filter of the resize.</param>
    public ImageResampler(int side, int resizeSize, float[]? pixelMean = null, ImageInterpolation interpolation = ImageInterpolation.Bicubic)
    {
        this.pixelMean = pixelMean ?? [0f, 0f, 0f];
        if (resizeSize < side)
            throw new ArgumentOutOfRangeException(nameof(resizeSize), resizeSize, $"The resize side must be at least the image side {side}.");
        this.side = side;
        ResizeSize = resizeSize;
        resizes = resizeSize != side;
        var taps = resizes
            ? Enumerable.Range(0, side).Select(o => ResampleWeights.Taps(interpolation, side, resizeSize, side, o)).ToArray()
            : [];
        first = taps.Select(t => t[0].Index).ToArray();
        count = taps.Select(t => t.Length).ToArray();
        offset = new int[taps.Length];
        for (var o = 1; o < taps.Length; o++)
            offset[o] = offset[o - 1] + count[o - 1];
        weights = taps.SelectMany(t => t.Select(tap => tap.Weight)).ToArray();
        firstRow = resizes ? first.Min() : 0;
        rowCount = resizes ? taps.Max(t => t[^1].Index) + 1 - firstRow : 0;
        if (resizes && Vector256.IsHardwareAccelerated && ResampleWeights.AsPolyphase(interpolation, side, resizeSize, side) is { Phases: 8 } filter)
        {
            polyphase = filter;
            phaseKernel = Enumerable.Range(0, filter.Length)
                .Select(j => Vector256.Create(Enumerable.Range(0, 8).Select(phase => filter.Kernel[phase * filter.Length + j]).ToArray()))
                .ToArray();
        }
    }

    /// <summary>The side R of the resize whose center is kept.</summary>
    public int ResizeSize { get; }

    /// <summary>Floats written per image: 3·S·S.</summary>
    public int OutputSize => 3 * side * side;

    /// <summary>Buffers for one reader: the horizontally resized rows and one row of pixels as floats.</summary>
    public sealed class Scratch(ImageResampler resampler)
    {
        internal float[] Planes { get; } = new float[3 * resampler.rowCount * resampler.side];

        internal Vector128<float>[] Row { get; } = new Vector128<float>[resampler.side];
    }

    /// <summary>Writes the R, G and B planes of <paramref name="image"/>'s resampled center into <paramref name="destination"/> (3·S·S floats).</summary>
    public void Write(MLImage image, Span<float> destination, Scratch scratch)
    {
        if (image.Width != side || image.Height != side)
            throw new InvalidOperationException($"the image is {image.Width}x{image.Height}; {side}x{side} was expected.");
        var (red, blue) = image.PixelFormat switch
        {
            MLPixelFormat.Bgra32 => (2, 0),
            MLPixelFormat.Rgba32 => (0, 2),
            var format => throw new InvalidOperationException($"the image has pixel format {format}; Bgra32 or Rgba32 was expected."),
        };
        var pixels = image.Pixels;
        if (!resizes)
        {
            SplitPlanes(pixels, red, blue, destination);
            return;
        }
        ResizeRows(pixels, red, blue, scratch);
        ResizeColumnsOfPlanes(scratch.Planes, destination);
    }

    private void SplitPlanes(ReadOnlySpan<byte> pixels, int red, int blue, Span<float> destination)
    {
        var area = side * side;
        for (var i = 0; i < area; i++)
        {
            destination[i] = pixels[4 * i + red] - pixelMean[0];
            destination[area + i] = pixels[4 * i + 1] - pixelMean[1];
            destination[2 * area + i] = pixels[4 * i + blue] - pixelMean[2];
        }
    }

    // First pass, along each row: all four channels of a pixel at once, one 4-lane vector per pixel.
    private void ResizeRows(ReadOnlySpan<byte> pixels, int red, int blue, Scratch scratch)
    {
        var row = scratch.Row;
        var planes = scratch.Planes;
        var planeSize = rowCount * side;
        var half = Vector128.Create(0.5f);
        var max = Vector128.Create(255f);
        for (var r = 0; r < rowCount; r++)
        {
            ToFloats(pixels.Slice((firstRow + r) * side * 4, side * 4), row);
            if (polyphase is not null)
            {
                ResizeRowByPeriods(row, r, red, blue, planes);
                continue;
            }
            for (var o = 0; o < side; o++)
            {
                var sum = half;
                var taps = weights.AsSpan(offset[o], count[o]);
                var input = row.AsSpan(first[o], taps.Length);
                for (var t = 0; t < taps.Length; t++)
                    sum += input[t] * Vector128.Create(taps[t]);
                var rounded = Vector128.Min(Vector128.Max(Vector128.Floor(sum), Vector128<float>.Zero), max);
                var at = r * side + o;
                planes[at] = rounded.GetElement(red);
                planes[planeSize + at] = rounded.GetElement(1);
                planes[2 * planeSize + at] = rounded.GetElement(blue);
            }
        }
    }

    // One row, eight outputs (one period) at a time: each input pixel of the period, broadcast per
    // channel, times the kernel's column of eight phase weights. The three channels are three
    // independent sums, and the loads skip bounds checks: this loop is most of the resampler's time.
    private void ResizeRowByPeriods(Vector128<float>[] row, int r, int red, int blue, float[] planes)
    {
        var (stride, length, start) = (polyphase!.Stride, polyphase.Length, polyphase.Start);
        var planeSize = rowCount * side;
        var half = Vector256.Create(0.5f);
        var max = Vector256.Create(255f);
        ref var pixels = ref Unsafe.As<Vector128<float>, float>(ref MemoryMarshal.GetArrayDataReference(row));
        ref var kernel = ref MemoryMarshal.GetArrayDataReference(phaseKernel);
        var (redOutput, greenOutput, blueOutput) = (r * side, planeSize + r * side, 2 * planeSize + r * side);
        for (var period = 0; period < side / 8; period++)
        {
            ref var first = ref Unsafe.Add(ref pixels, 4 * (start + period * stride));
            var (sumRed, sumGreen, sumBlue) = (half, half, half);
            for (var j = 0; j < length; j++)
            {
                var weights = Unsafe.Add(ref kernel, j);
                ref var pixel = ref Unsafe.Add(ref first, 4 * j);
                sumRed = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref pixel, red)), weights, sumRed);
                sumGreen = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref pixel, 1)), weights, sumGreen);
                sumBlue = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref pixel, blue)), weights, sumBlue);
            }
            ClampToPixels(Vector256.Floor(sumRed), max).CopyTo(planes, redOutput + period * 8);
            ClampToPixels(Vector256.Floor(sumGreen), max).CopyTo(planes, greenOutput + period * 8);
            ClampToPixels(Vector256.Floor(sumBlue), max).CopyTo(planes, blueOutput + period * 8);
        }
    }

    private static Vector256<float> ClampToPixels(Vector256<float> value, Vector256<float> max) =>
        Vector256.Min(Vector256.Max(value, Vector256<float>.Zero), max);

    // Four bytes (one pixel) to one 4-lane float vector, sixteen bytes at a time.
    private static void ToFloats(ReadOnlySpan<byte> bytes, Span<Vector128<float>> row)
    {
        var x = 0;
        for (; (x + 4) * 4 <= bytes.Length; x += 4)
        {
            var (low, high) = Vector128.Widen(Vector128.Create(bytes.Slice(x * 4, 16)));
            var (p0, p1) = Vector128.Widen(low);
            var (p2, p3) = Vector128.Widen(high);
            row[x] = Vector128.ConvertToSingle(p0);
            row[x + 1] = Vector128.ConvertToSingle(p1);
            row[x + 2] = Vector128.ConvertToSingle(p2);
            row[x + 3] = Vector128.ConvertToSingle(p3);
        }
        for (; x < row.Length; x++)
            row[x] = Vector128.Create((float)bytes[4 * x], bytes[4 * x + 1], bytes[4 * x + 2], bytes[4 * x + 3]);
    }

    // Second pass, down the columns: each output row is a weighted sum of at most four whole input rows.
    private void ResizeColumnsOfPlanes(float[] planes, Span<float> destination)
    {
        var planeSize = rowCount * side;
        var half = Vector256.Create(0.5f);
        var max = Vector256.Create(255f);
        var vectorEnd = Vector256.IsHardwareAccelerated ? side - side % 8 : 0;
        ref var input = ref MemoryMarshal.GetArrayDataReference(planes);
        ref var output = ref MemoryMarshal.GetReference(destination);
        for (var c = 0; c < 3; c++)
        {
            var mean = Vector256.Create(pixelMean[c]);
            for (var o = 0; o < side; o++)
            {
                var taps = weights.AsSpan(offset[o], count[o]);
                ref var top = ref Unsafe.Add(ref input, c * planeSize + (first[o] - firstRow) * side);
                ref var result = ref Unsafe.Add(ref output, (c * side + o) * side);
                // Absent taps weigh zero and read the first row again: exact, and one loop for all counts.
                var w0 = Vector256.Create(taps[0]);
                var (w1, w2, w3) = (Weight(taps, 1), Weight(taps, 2), Weight(taps, 3));
                var (row1, row2, row3) = (Math.Min(1, taps.Length - 1) * side, Math.Min(2, taps.Length - 1) * side, Math.Min(3, taps.Length - 1) * side);
                for (var x = 0; x < vectorEnd; x += 8)
                {
                    ref var column = ref Unsafe.Add(ref top, x);
                    var sum = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref column), w0, half);
                    sum = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref Unsafe.Add(ref column, row1)), w1, sum);
                    sum = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref Unsafe.Add(ref column, row2)), w2, sum);
                    sum = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref Unsafe.Add(ref column, row3)), w3, sum);
                    (ClampToPixels(Vector256.Floor(sum), max) - mean).StoreUnsafe(ref Unsafe.Add(ref result, x));
                }
                for (var x = vectorEnd; x < side; x++)
                {
                    var sum = 0.5f;
                    for (var t = 0; t < taps.Length; t++)
                        sum += Unsafe.Add(ref top, t * side + x) * taps[t];
                    Unsafe.Add(ref result, x) = Math.Clamp(MathF.Floor(sum), 0f, 255f) - pixelMean[c];
                }
            }
        }
    }

    private static Vector256<float> Weight(ReadOnlySpan<float> taps, int t) => Vector256.Create(t < taps.Length ? taps[t] : 0f);
}
