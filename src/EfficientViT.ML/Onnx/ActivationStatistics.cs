namespace EfficientViT.ML.Onnx;

/// <summary>
/// The values one activation took over the calibration images: its min and max (first pass) and a
/// histogram of |value| over [0, max |value|] (second pass, for the percentile and entropy methods), and
/// the range each <see cref="Int8CalibrationMethod"/> derives from them.
/// </summary>
internal sealed class ActivationStatistics
{
    /// <summary>Histogram bins over [0, max |value|]: fine enough that a bin is well below one int8 step.</summary>
    public const int Bins = 2048;

    /// <summary>The share of |value| kept inside the range by <see cref="Int8CalibrationMethod.Percentile"/>.</summary>
    public const double Percentile = 0.9999;

    private float min = float.PositiveInfinity;
    private float max = float.NegativeInfinity;
    private long[]? histogram;
    private float binWidth;

    // Per channel of a (batch, C, H, W) activation: the sum of its values and how many were summed.
    private double[]? channelSums;
    private long valuesPerChannel;

    /// <summary>
    /// First pass: widens the min/max over <paramref name="values"/>, laid out as <paramref name="shape"/>;
    /// for a (batch, C, H, W) activation also sums each channel, for <see cref="ChannelMeans"/>.
    /// </summary>
    public void Observe(ReadOnlySpan<float> values, ReadOnlySpan<long> shape)
    {
        foreach (var v in values)
        {
            if (v < min) min = v;
            if (v > max) max = v;
        }
        if (shape.Length != 4)
            return;
        var channels = (int)shape[1];
        var plane = (int)(shape[2] * shape[3]);
        channelSums ??= new double[channels];
        for (var n = 0; n < shape[0]; n++)
        {
            for (var c = 0; c < channels; c++)
            {
                double sum = 0;
                foreach (var v in values.Slice((int)((n * channels + c) * plane), plane))
                    sum += v;
                channelSums[c] += sum;
            }
        }
        valuesPerChannel += shape[0] * plane;
    }

    /// <summary>The mean of each channel over the calibration images, for a (batch, C, H, W) activation; otherwise null.</summary>
    public float[]? ChannelMeans => channelSums?.Select(sum => (float)(sum / valuesPerChannel)).ToArray();

    /// <summary>Second pass: counts |value| into the histogram, whose span the first pass fixed.</summary>
    public void Count(ReadOnlySpan<float> values)
    {
        if (histogram is null)
        {
            histogram = new long[Bins];
            var maxAbs = Math.Max(Math.Abs(min), Math.Abs(max));
            binWidth = maxAbs > 0f ? maxAbs / Bins : 1f;
        }
        var scale = 1f / binWidth;
        foreach (var v in values)
            histogram[Math.Min((int)(Math.Abs(v) * scale), Bins - 1)]++;
    }

    /// <summary>The range <paramref name="method"/> gives; the percentile and entropy methods need <see cref="Count"/> first.</summary>
    public Int8ActivationRange Range(Int8CalibrationMethod method)
    {
        if (float.IsInfinity(min))
            throw new InvalidOperationException("No values were observed.");
        if (method == Int8CalibrationMethod.MinMax)
            return new Int8ActivationRange(min, max);
        var counts = histogram ?? throw new InvalidOperationException("The histogram pass did not run.");
        var threshold = method == Int8CalibrationMethod.Percentile
            ? PercentileThreshold(counts)
            : EntropyThreshold(counts, levels: min >= 0f ? 256 : 128);
        // Clipping only narrows: a tensor that never reaches the threshold on one side keeps its own bound.
        return new Int8ActivationRange(Math.Max(min, -threshold), Math.Min(max, threshold));
    }

    private float PercentileThreshold(long[] counts)
    {
        var total = counts.Sum();
        var target = (long)Math.Ceiling(total * Percentile);
        long cumulative = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            cumulative += counts[i];
            if (cumulative >= target)
                return (i + 1) * binWidth;
        }
        return counts.Length * binWidth;
    }

    /// <summary>
    /// TensorRT's entropy calibration: for each candidate threshold (a bin edge from <paramref name="levels"/>
    /// bins up), the distribution P of |value| clipped there (the clipped mass added to the last bin) is
    /// compared with Q, P merged into <paramref name="levels"/> quantization steps and spread back over the
    /// bins that were non-empty; the threshold with the least KL(P‖Q) wins.
    /// </summary>
    private float EntropyThreshold(long[] counts, int levels)
    {
        var bestDivergence = double.PositiveInfinity;
        var bestBins = counts.Length;
        var p = new double[counts.Length];
        var q = new double[counts.Length];
        long outliers = counts.Sum();
        for (var i = 0; i < levels && i < counts.Length; i++)
            outliers -= counts[i];
        for (var bins = levels; bins <= counts.Length; bins++)
        {
            if (bins > levels)
                outliers -= counts[bins - 1];
            for (var k = 0; k < bins; k++)
                p[k] = counts[k];
            p[bins - 1] += outliers;

            // Merge the bins into `levels` steps and spread each step evenly over its non-empty bins.
            for (var level = 0; level < levels; level++)
            {
                var start = (int)((long)level * bins / levels);
                var end = (int)((long)(level + 1) * bins / levels);
                double sum = 0;
                var nonEmpty = 0;
                for (var k = start; k < end; k++)
                {
                    sum += counts[k];
                    if (counts[k] != 0) nonEmpty++;
                }
                for (var k = start; k < end; k++)
                    q[k] = counts[k] != 0 ? sum / nonEmpty : 0;
            }
            var divergence = KullbackLeibler(p.AsSpan(0, bins), q.AsSpan(0, bins));
            if (divergence < bestDivergence)
            {
                bestDivergence = divergence;
                bestBins = bins;
            }
        }
        return bestBins * binWidth;
    }

    private static double KullbackLeibler(ReadOnlySpan<double> p, ReadOnlySpan<double> q)
    {
        double pTotal = 0, qTotal = 0;
        for (var k = 0; k < p.Length; k++)
        {
            pTotal += p[k];
            qTotal += q[k];
        }
        if (pTotal == 0 || qTotal == 0)
            return double.PositiveInfinity;
        double divergence = 0;
        for (var k = 0; k < p.Length; k++)
        {
            if (p[k] == 0)
                continue;
            // Mass that Q cannot place (the clipped outliers in an empty last bin) costs as if Q held a tiny share.
            var qk = Math.Max(q[k] / qTotal, 1e-9);
            var pk = p[k] / pTotal;
            divergence += pk * Math.Log(pk / qk);
        }
        return divergence;
    }
}
