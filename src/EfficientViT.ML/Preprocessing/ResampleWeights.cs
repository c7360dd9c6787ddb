namespace EfficientViT.ML.Preprocessing;

/// <summary>
/// The weights of PIL's resize of 8-bit images with a filter (<see cref="ImageInterpolation"/>): output pixel o of a
/// line of <c>input</c> pixels resized to <c>output</c> reads the input pixels whose centres lie within the filter's
/// support of its own centre (pixel centres at +0.5; the support widened by input/output when shrinking), weighted by
/// the filter at their distance (divided by that widening), taps outside the line left out and the rest renormalized
/// to sum to 1, then rounded to fixed point as PIL does for 8-bit images (with 14 fraction bits here, PIL uses 22).
/// </summary>
/// <remarks>
/// The fixed point makes every engine agree exactly. Applied to whole pixel values 0–255, each product
/// (8 bits times a 15-bit weight) and each partial sum (below 2^9, in steps of 2^−14) fits a float's
/// 24-bit significand, so float32 arithmetic in any order, fused or not, gives the exact sum; rounded
/// to whole pixel values after each pass, the graph, TorchSharp, the evaluation transform and the managed
/// featurizer produce identical images.
/// </remarks>
internal static class ResampleWeights
{
    private const double CubicA = -0.5;

    /// <summary>Weights are whole multiples of 2^−FractionBits.</summary>
    public const int FractionBits = 14;

    /// <summary>
    /// The (crop × input) matrix mapping an input line of <paramref name="input"/> pixels to the
    /// center <paramref name="crop"/> pixels of its resize to <paramref name="output"/> pixels.
    /// </summary>
    public static float[] Matrix(ImageInterpolation filter, int input, int output, int crop)
    {
        var matrix = new float[crop * input];
        for (var o = 0; o < crop; o++)
            foreach (var (index, weight) in Taps(filter, input, output, crop, o))
                matrix[o * input + index] = weight;
        return matrix;
    }

    /// <summary>
    /// The same map as a polyphase filter, when it is one: with input/output = p/q in lowest terms,
    /// output pixel q·k + φ reads input pixels p·k + Start + j with weights Kernel[φ][j]. Every pixel it
    /// reads lies inside the input, since each period reads its own outputs' taps. Null when the pattern
    /// breaks (taps dropped at an image edge, or a crop that is not a whole number of periods).
    /// </summary>
    public static Polyphase? AsPolyphase(ImageInterpolation filter, int input, int output, int crop)
    {
        var divisor = Gcd(input, output);
        var (stride, phases) = (input / divisor, output / divisor);
        if (crop % phases != 0)
            return null;
        var rows = Enumerable.Range(0, crop).Select(o => Taps(filter, input, output, crop, o)).ToArray();
        var start = rows.Take(phases).Min(r => r[0].Index);
        var length = rows.Take(phases).Max(r => r[^1].Index) - start + 1;
        var kernel = new float[phases * length];
        for (var phase = 0; phase < phases; phase++)
            foreach (var (index, weight) in rows[phase])
                kernel[phase * length + index - start] = weight;
        for (var o = 0; o < crop; o++)
        {
            var (k, phase) = (o / phases, o % phases);
            // Every output must use its phase's taps shifted by whole periods, with the same weights.
            if (rows[o].Length != rows[phase].Length
                || rows[o].Zip(rows[phase]).Any(t => t.First.Index != t.Second.Index + k * stride || t.First.Weight != t.Second.Weight))
                return null;
        }
        return new Polyphase(stride, phases, start, length, kernel);
    }

    /// <summary>A resize written as a strided convolution with one output channel per phase.</summary>
    /// <param name="Stride">Input pixels per period (p).</param>
    /// <param name="Phases">Output pixels per period (q).</param>
    /// <param name="Start">The first input pixel the first period reads.</param>
    /// <param name="Length">Input pixels one period reads.</param>
    /// <param name="Kernel">Phases × Length weights, row-major.</param>
    public sealed record Polyphase(int Stride, int Phases, int Start, int Length, float[] Kernel);

    /// <summary>
    /// The input pixels output pixel <paramref name="o"/> of the center <paramref name="crop"/> reads (consecutive),
    /// with their weights (summing to 1 up to the fixed-point rounding).
    /// </summary>
    public static (int Index, float Weight)[] Taps(ImageInterpolation filter, int input, int output, int crop, int o) =>
        Taps(filter, input, output, (output - crop) / 2 + o);

    /// <summary>
    /// The input pixels pixel <paramref name="o"/> of the whole resized line reads (consecutive), with their fixed-point
    /// weights (summing to 1 up to the rounding).
    /// </summary>
    public static (int Index, float Weight)[] Taps(ImageInterpolation filter, int input, int output, int o)
    {
        var taps = ExactTaps(filter, input, output, o);
        var result = new (int Index, float Weight)[taps.Length];
        for (var t = 0; t < taps.Length; t++)
            result[t] = (taps[t].Index, FixedPoint(taps[t].Weight));
        return result;
    }

    /// <summary>The input pixels pixel <paramref name="o"/> of the whole resized line reads (consecutive), with their weights before rounding (summing to 1).</summary>
    public static (int Index, double Weight)[] ExactTaps(ImageInterpolation filter, int input, int output, int o)
    {
        var stretch = Math.Max((double)input / output, 1.0);
        var support = Support(filter) * stretch;
        // Where the output pixel's centre falls on the input, in input pixel units from the first pixel's centre.
        var source = (o + 0.5) * input / output - 0.5;
        // The taps PIL takes: from (int)(centre − support + 0.5) up to (int)(centre + support + 0.5), inside the line.
        var first = Math.Max((int)(source - support + 1.0), 0);
        var end = Math.Min((int)(source + support + 1.0), input);
        var taps = new (int Index, double Weight)[end - first];
        var total = 0.0;
        for (var t = 0; t < taps.Length; t++)
        {
            taps[t] = (first + t, Filter(filter, (source - (first + t)) / stretch));
            total += taps[t].Weight;
        }
        for (var t = 0; t < taps.Length; t++)
            taps[t].Weight /= total;
        return taps;
    }

    private static double Support(ImageInterpolation filter) => filter switch
    {
        ImageInterpolation.Bicubic => 2.0,
        ImageInterpolation.Bilinear => 1.0,
        _ => throw new ArgumentOutOfRangeException(nameof(filter), filter, "not an interpolation this library resizes with."),
    };

    private static double Filter(ImageInterpolation filter, double distance)
    {
        var d = Math.Abs(distance);
        if (filter == ImageInterpolation.Bilinear)
            return d < 1 ? 1 - d : 0;
        return d <= 1 ? ((CubicA + 2) * d - (CubicA + 3)) * d * d + 1
            : d < 2 ? (((d - 5) * d + 8) * d - 4) * CubicA
            : 0;
    }

    // Rounded half away from zero, as PIL rounds its fixed-point weights.
    private static float FixedPoint(double weight) =>
        (float)(Math.Round(weight * (1 << FractionBits), MidpointRounding.AwayFromZero) / (1 << FractionBits));

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
