namespace EfficientViT.ML.Tests.Onnx;

/// <summary>
/// A hand-written copy of what PIL's Image.resize(BICUBIC) does to an 8-bit square image when enlarging,
/// followed by a center crop: cubic convolution (a = −0.5) with half-pixel centres, taps outside the
/// image dropped and the rest renormalized, weights in fixed point, columns first, each pass rounded half
/// up and clipped to 0–255. PIL uses 22 fraction bits; the library 14.
/// </summary>
internal static class PilStyleResize
{
    /// <summary>Resizes each size×size plane of <paramref name="planes"/> (whole values 0–255) to resize×resize and keeps the center size×size.</summary>
    public static int[] ResizeAndCrop(int[] planes, int size, int resize, int fractionBits)
    {
        var taps = Enumerable.Range(0, size).Select(o => Taps(o + (resize - size) / 2, size, resize, fractionBits)).ToArray();
        var area = size * size;
        var result = new int[planes.Length];
        var columnsDone = new int[area];
        for (var p = 0; p < planes.Length / area; p++)
        {
            for (var y = 0; y < size; y++)
                for (var x = 0; x < size; x++)
                    columnsDone[y * size + x] = Round(taps[x].Sum(t => (long)t.Weight * planes[p * area + y * size + t.Index]), fractionBits);
            for (var y = 0; y < size; y++)
                for (var x = 0; x < size; x++)
                    result[p * area + y * size + x] = Round(taps[y].Sum(t => (long)t.Weight * columnsDone[t.Index * size + x]), fractionBits);
        }
        return result;
    }

    private static int Round(long sum, int fractionBits) =>
        (int)Math.Clamp((sum + (1L << (fractionBits - 1))) >> fractionBits, 0, 255);

    private static List<(int Index, long Weight)> Taps(int outputIndex, int input, int output, int fractionBits)
    {
        var source = (outputIndex + 0.5) * input / output - 0.5;
        var first = (int)Math.Floor(source) - 1;
        var taps = Enumerable.Range(first, 4).Where(i => i >= 0 && i < input).Select(i => (i, Cubic(source - i))).ToList();
        var total = taps.Sum(t => t.Item2);
        return taps.Select(t => (t.i, (long)Math.Round(t.Item2 / total * (1L << fractionBits), MidpointRounding.AwayFromZero))).ToList();
    }

    private static double Cubic(double distance)
    {
        const double a = -0.5;
        var d = Math.Abs(distance);
        return d <= 1 ? ((a + 2) * d - (a + 3)) * d * d + 1
            : d < 2 ? (((d - 5) * d + 8) * d - 4) * a
            : 0;
    }
}
