using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// Fits an attention bias table (heads × r·r, offset (dy, dx) at dy·r + dx; see <see cref="AttentionBiasIndex"/>)
/// made for an r×r window to an r'×r' one, so that a checkpoint trained at one input size runs at another.
/// </summary>
/// <example>
/// <code>
/// // The 4x4 table of a stage trained at 64x64 for a 7x7 window at 112x112:
/// float[] resized = AttentionBiasResampler.Resample(table, heads: 4, from: 4, to: 7, AttentionBiasResampling.Interpolate);
/// </code>
/// </example>
internal static class AttentionBiasResampler
{
    /// <summary>The table resampled from <paramref name="from"/>×<paramref name="from"/> offsets per head to <paramref name="to"/>×<paramref name="to"/>; the same values when the sides are equal.</summary>
    /// <param name="table">heads · from · from values, head-major, each head's offsets row-major (dy, dx).</param>
    /// <param name="heads">Attention heads.</param>
    /// <param name="from">The window side the table was made for.</param>
    /// <param name="to">The window side to fit.</param>
    /// <param name="mode">Interpolate (timm's rule) or extend.</param>
    public static float[] Resample(ReadOnlySpan<float> table, int heads, int from, int to, AttentionBiasResampling mode = AttentionBiasResampling.Interpolate)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(heads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(from);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(to);
        if (table.Length != heads * from * from)
            throw new ArgumentException($"an attention bias table of {heads} heads for a {from}x{from} window has {heads * from * from} values; found {table.Length}.", nameof(table));
        if (from == to)
            return table.ToArray();
        var weights = mode == AttentionBiasResampling.Interpolate ? BicubicWeights(from, to) : EdgeWeights(from, to);
        var result = new float[heads * to * to];
        for (var head = 0; head < heads; head++)
        {
            var source = table.Slice(head * from * from, from * from);
            // Separable: columns (dx) first, then rows (dy), in double.
            var columns = new double[from * to];
            for (var y = 0; y < from; y++)
                for (var x = 0; x < to; x++)
                    foreach (var (index, weight) in weights[x])
                        columns[y * to + x] += weight * source[y * from + index];
            for (var y = 0; y < to; y++)
                for (var x = 0; x < to; x++)
                {
                    var sum = 0.0;
                    foreach (var (index, weight) in weights[y])
                        sum += weight * columns[index * to + x];
                    result[head * to * to + y * to + x] = (float)sum;
                }
        }
        return result;
    }

    /// <summary>
    /// PIL's (and PyTorch's antialiased) bicubic weights for a line of <paramref name="input"/> samples
    /// resized to <paramref name="output"/>, exact (not rounded to fixed point as for 8-bit images).
    /// </summary>
    private static (int Index, double Weight)[][] BicubicWeights(int input, int output) =>
        Enumerable.Range(0, output).Select(o => ResampleWeights.ExactTaps(ImageInterpolation.Bicubic, input, output, o)).ToArray();

    // Offset k keeps its own value; offsets beyond the table take the last one's.
    private static (int Index, double Weight)[][] EdgeWeights(int input, int output) =>
        Enumerable.Range(0, output).Select(o => new[] { (Math.Min(o, input - 1), 1.0) }).ToArray();
}
