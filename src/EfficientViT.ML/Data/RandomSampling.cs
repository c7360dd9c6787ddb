namespace EfficientViT.ML.Data;

/// <summary>
/// The random draws the data pipeline needs, written out rather than taken from library helpers whose
/// algorithm may change between .NET versions, so that a seed keeps giving the same data.
/// </summary>
internal static class RandomSampling
{
    /// <summary>A uniform draw from [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static double Uniform(this Random random, double low, double high) => low + (high - low) * random.NextDouble();

    /// <summary>A standard normal draw (Box–Muller).</summary>
    public static double NextGaussian(this Random random)
    {
        // 1 − u lies in (0, 1], so the logarithm is finite.
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Fills <paramref name="values"/> with standard normal draws, using both outputs of each Box–Muller step.</summary>
    public static void FillGaussian(this Random random, Span<float> values)
    {
        for (var i = 0; i < values.Length; i += 2)
        {
            var radius = Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble()));
            var (sin, cos) = Math.SinCos(2.0 * Math.PI * random.NextDouble());
            values[i] = (float)(radius * cos);
            if (i + 1 < values.Length)
                values[i + 1] = (float)(radius * sin);
        }
    }

    /// <summary>Shuffles <paramref name="items"/> in place (Fisher–Yates).</summary>
    public static void ShuffleInPlace<T>(this Random random, T[] items)
    {
        for (var i = items.Length - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
