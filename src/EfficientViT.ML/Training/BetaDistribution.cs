namespace EfficientViT.ML.Training;

/// <summary>
/// Beta-distributed random numbers from <see cref="Random"/>, so that mixing is reproducible from a
/// seed without a native generator: Beta(a, b) = X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
/// </summary>
internal static class BetaDistribution
{
    /// <summary>A draw from Beta(<paramref name="a"/>, <paramref name="b"/>); both parameters positive.</summary>
    public static double Sample(Random random, double a, double b)
    {
        if (a <= 0 || b <= 0)
            throw new ArgumentOutOfRangeException(nameof(a), $"Beta parameters must be positive; found {a} and {b}.");
        var x = Gamma(random, a);
        var y = Gamma(random, b);
        // Both draws can underflow to 0 for tiny shapes; the distribution then sits at its two ends,
        // reached with probabilities proportional to the shapes.
        if (x + y == 0)
            return random.NextDouble() < a / (a + b) ? 1.0 : 0.0;
        return x / (x + y);
    }

    /// <summary>A draw from Gamma(<paramref name="shape"/>, 1) by Marsaglia and Tsang's method (2000).</summary>
    public static double Gamma(Random random, double shape)
    {
        if (shape < 1)
        {
            // The method needs shape ≥ 1; Gamma(a) = Gamma(a + 1) · U^(1/a) for U uniform on (0, 1].
            var u = 1.0 - random.NextDouble();
            return Gamma(random, shape + 1) * Math.Pow(u, 1.0 / shape);
        }

        var d = shape - 1.0 / 3.0;
        var c = 1.0 / Math.Sqrt(9 * d);
        while (true)
        {
            var x = StandardNormal(random);
            var v = 1 + c * x;
            if (v <= 0)
                continue;
            v = v * v * v;
            var u = 1.0 - random.NextDouble(); // (0, 1], so that its logarithm is finite
            // Cheap squeeze first, then the exact acceptance test.
            if (u < 1 - 0.0331 * x * x * x * x)
                return d * v;
            if (Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v)))
                return d * v;
        }
    }

    /// <summary>A standard normal draw by the Box–Muller transform.</summary>
    public static double StandardNormal(Random random)
    {
        var u1 = 1.0 - random.NextDouble(); // (0, 1]: log(u1) is finite
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
