namespace EfficientViT.ML.Onnx;

/// <summary>
/// Interpolation weights of PIL's bicubic resize when enlarging: cubic convolution with a = −0.5,
/// pixel centres at +0.5, taps that fall outside the image dropped and the remaining weights
/// renormalised to sum to 1.
/// </summary>
internal static class BicubicWeights
{
    private const double A = -0.5;

    /// <summary>
    /// The (crop × input) matrix mapping an input line of <paramref name="input"/> pixels to the
    /// center <paramref name="crop"/> pixels of its resize to <paramref name="output"/> pixels.
    /// </summary>
    public static float[] Matrix(int input, int output, int crop)
    {
        var offset = (output - crop) / 2;
        var matrix = new float[crop * input];
        for (var o = 0; o < crop; o++)
        {
            var source = (o + offset + 0.5) * input / output - 0.5;
            var first = (int)Math.Floor(source) - 1;
            var taps = Enumerable.Range(first, 4).Where(i => i >= 0 && i < input).ToArray();
            var total = taps.Sum(i => Cubic(source - i));
            foreach (var i in taps)
                matrix[o * input + i] = (float)(Cubic(source - i) / total);
        }
        return matrix;
    }

    private static double Cubic(double distance)
    {
        var d = Math.Abs(distance);
        return d <= 1 ? ((A + 2) * d - (A + 3)) * d * d + 1
            : d < 2 ? (((d - 5) * d + 8) * d - 4) * A
            : 0;
    }
}
