using EfficientViT.ML.Modeling;

namespace EfficientViT.ML.Tests.InputSize;

public class AttentionBiasResamplerTests
{
    private static float[] RandomTable(int heads, int side, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, heads * side * side).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    [Theory]
    [InlineData(AttentionBiasResampling.Interpolate)]
    [InlineData(AttentionBiasResampling.Extend)]
    public void Resampling_to_the_same_side_is_the_identity(AttentionBiasResampling mode)
    {
        var table = RandomTable(4, 7, 1);
        Assert.Equal(table, AttentionBiasResampler.Resample(table, 4, 7, 7, mode));
    }

    [Theory]
    [InlineData(4, 7)]
    [InlineData(2, 4)]
    [InlineData(7, 6)]
    [InlineData(7, 3)]
    [InlineData(1, 2)]
    public void Interpolation_matches_a_hand_written_antialiased_bicubic(int from, int to)
    {
        var table = RandomTable(3, from, from * 10 + to);

        var resampled = AttentionBiasResampler.Resample(table, 3, from, to);

        var expected = NaiveBicubic(table, 3, from, to);
        Assert.Equal(3 * to * to, resampled.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.Equal(expected[i], resampled[i], 1e-5);
    }

    [Theory]
    [InlineData(3, 7)]
    [InlineData(7, 4)]
    public void A_constant_table_stays_constant(int from, int to)
    {
        var table = Enumerable.Repeat(0.625f, 2 * from * from).ToArray();
        Assert.All(AttentionBiasResampler.Resample(table, 2, from, to), v => Assert.Equal(0.625f, v, 1e-6f));
    }

    [Fact]
    public void Extending_keeps_every_learned_offset_and_repeats_the_edge_beyond_them()
    {
        var table = RandomTable(2, 3, 5);

        var larger = AttentionBiasResampler.Resample(table, 2, 3, 5, AttentionBiasResampling.Extend);
        var smaller = AttentionBiasResampler.Resample(table, 2, 3, 2, AttentionBiasResampling.Extend);

        for (var head = 0; head < 2; head++)
        for (var dy = 0; dy < 5; dy++)
        for (var dx = 0; dx < 5; dx++)
            Assert.Equal(table[head * 9 + Math.Min(dy, 2) * 3 + Math.Min(dx, 2)], larger[head * 25 + dy * 5 + dx]);
        for (var head = 0; head < 2; head++)
        for (var dy = 0; dy < 2; dy++)
        for (var dx = 0; dx < 2; dx++)
            Assert.Equal(table[head * 9 + dy * 3 + dx], smaller[head * 4 + dy * 2 + dx]);
    }

    [Fact]
    public void A_table_of_the_wrong_length_is_refused_with_both_lengths()
    {
        var error = Assert.Throws<ArgumentException>(() => AttentionBiasResampler.Resample(new float[10], 2, 3, 4));
        Assert.Contains("18", error.Message);
        Assert.Contains("10", error.Message);
    }

    /// <summary>
    /// PyTorch's interpolate(mode='bicubic', antialias=True, align_corners=False) written out in two
    /// dimensions at once: the output sample o of a line sits at input coordinate (o + 0.5)·in/out; when
    /// shrinking, the cubic (a = −0.5) is stretched by in/out; taps outside the table are left out and
    /// each axis' remaining weights are scaled to sum to one.
    /// </summary>
    private static double[] NaiveBicubic(float[] table, int heads, int from, int to)
    {
        double Cubic(double x)
        {
            x = Math.Abs(x);
            const double a = -0.5;
            if (x < 1) return (a + 2) * x * x * x - (a + 3) * x * x + 1;
            if (x < 2) return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
            return 0;
        }
        double[] Weights(int o)
        {
            var scale = (double)from / to;
            var stretch = Math.Max(1, scale);
            var center = (o + 0.5) * scale;
            var w = new double[from];
            for (var i = 0; i < from; i++)
                w[i] = Cubic((i + 0.5 - center) / stretch);
            var sum = w.Sum();
            return w.Select(v => v / sum).ToArray();
        }
        var result = new double[heads * to * to];
        for (var h = 0; h < heads; h++)
        for (var y = 0; y < to; y++)
        for (var x = 0; x < to; x++)
        {
            double[] wy = Weights(y), wx = Weights(x);
            var sum = 0.0;
            for (var i = 0; i < from; i++)
            for (var j = 0; j < from; j++)
                sum += wy[i] * wx[j] * table[h * from * from + i * from + j];
            result[h * to * to + y * to + x] = sum;
        }
        return result;
    }
}
