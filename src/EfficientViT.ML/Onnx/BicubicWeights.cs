namespace EfficientViT.ML.Onnx;

/// <summary>
/// Interpolation weights of PIL's bicubic resize when enlarging: cubic convolution with a = −0.5,
/// pixel centres at +0.5, taps that fall outside the image dropped and the remaining weights
/// renormalised to sum to 1, then rounded to fixed point as PIL does for 8-bit images (with 14
/// fraction bits here, PIL uses 22).
/// </summary>
/// <remarks>
/// The fixed point makes every engine agree exactly. Applied to whole pixel values 0–255, each product
/// (8 bits times a 15-bit weight) and each partial sum (below 2^9, in steps of 2^−14) fits a float's
/// 24-bit significand, so float32 arithmetic in any order, fused or not, gives the exact sum; rounded
/// to whole pixel values after each pass, the graph, TorchSharp and the managed
/// <see cref="MLNet.BicubicUpsampler"/> produce identical images.
/// </remarks>
internal static class BicubicWeights
{
    private const double A = -0.5;

    /// <summary>Weights are whole multiples of 2^−FractionBits.</summary>
    public const int FractionBits = 14;

    /// <summary>
    /// The (crop × input) matrix mapping an input line of <paramref name="input"/> pixels to the
    /// center <paramref name="crop"/> pixels of its resize to <paramref name="output"/> pixels.
    /// </summary>
    public static float[] Matrix(int input, int output, int crop)
    {
        var matrix = new float[crop * input];
        for (var o = 0; o < crop; o++)
            foreach (var (index, weight) in Taps(input, output, crop, o))
                matrix[o * input + index] = weight;
        return matrix;
    }

    /// <summary>
    /// The same map as a polyphase filter, when it is one: with input/output = p/q in lowest terms,
    /// output pixel q·k + φ reads input pixels p·k + Start + j with weights Kernel[φ][j]. Every pixel it
    /// reads lies inside the input, since each period reads its own outputs' taps. Null when the pattern
    /// breaks (taps dropped at an image edge, or a crop that is not a whole number of periods).
    /// </summary>
    public static Polyphase? AsPolyphase(int input, int output, int crop)
    {
        var divisor = Gcd(input, output);
        var (stride, phases) = (input / divisor, output / divisor);
        if (crop % phases != 0)
            return null;
        var rows = Enumerable.Range(0, crop).Select(o => Taps(input, output, crop, o)).ToArray();
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
    /// The input pixels output pixel <paramref name="o"/> of the crop reads (consecutive, at most
    /// four), with their weights (summing to 1 up to the fixed-point rounding).
    /// </summary>
    public static (int Index, float Weight)[] Taps(int input, int output, int crop, int o)
    {
        var offset = (output - crop) / 2;
        var source = (o + offset + 0.5) * input / output - 0.5;
        var first = (int)Math.Floor(source) - 1;
        var taps = Enumerable.Range(first, 4).Where(i => i >= 0 && i < input).ToArray();
        var total = taps.Sum(i => Cubic(source - i));
        return taps.Select(i => (i, FixedPoint(Cubic(source - i) / total))).ToArray();
    }

    // Rounded half away from zero, as PIL rounds its fixed-point weights.
    private static float FixedPoint(double weight) =>
        (float)(Math.Round(weight * (1 << FractionBits), MidpointRounding.AwayFromZero) / (1 << FractionBits));

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);

    private static double Cubic(double distance)
    {
        var d = Math.Abs(distance);
        return d <= 1 ? ((A + 2) * d - (A + 3)) * d * d + 1
            : d < 2 ? (((d - 5) * d + 8) * d - 4) * A
            : 0;
    }
}
