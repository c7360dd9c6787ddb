using System.Globalization;

namespace EfficientViT.Reporting;

/// <summary>
/// The ticks of one chart axis at round numbers: a step of 1, 2 or 5 times a power of ten (0.1, 0.2, 0.5,
/// 1, 2, 5, 10...), the smallest such step that keeps the ticks inside a range to a given count, so that
/// readers can interpolate between grid lines. Integer axes (epochs) never step by less than 1.
/// </summary>
/// <param name="Step">The distance between two ticks.</param>
/// <param name="Values">The ticks from low to high, all inside the range they were made for.</param>
internal sealed record AxisTicks(double Step, IReadOnlyList<double> Values)
{
    private static readonly int[] Mantissas = [1, 2, 5];

    // Lets values computed as i * step count as on the range's ends (0.1 / 0.05 is 2.0000000000000004).
    private const double Slack = 1e-9;

    /// <summary>The ticks for <paramref name="min"/>..<paramref name="max"/>, at most <paramref name="maxCount"/> of them.</summary>
    /// <example>
    /// <code>
    /// AxisTicks.Nice(0.37, 0.93, 6).Values;                // 0.4, 0.5, 0.6, 0.7, 0.8, 0.9
    /// AxisTicks.Nice(1, 30, 10, integers: true).Values;    // 5, 10, 15, 20, 25, 30
    /// </code>
    /// </example>
    public static AxisTicks Nice(double min, double max, int maxCount, bool integers = false)
    {
        if (!double.IsFinite(min) || !double.IsFinite(max) || min > max)
            throw new ArgumentException($"An axis needs a finite range with min <= max, not {min}..{max}.");
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 2);
        var range = max - min;
        if (range == 0)
            return new AxisTicks(1, [min]);
        // No step below range / maxCount can keep to maxCount ticks, so the search starts at its power of ten.
        for (var exponent = (int)Math.Floor(Math.Log10(range / maxCount)); ; exponent++)
        {
            foreach (var mantissa in Mantissas)
            {
                var step = Value(1, mantissa, exponent);
                if (integers && step < 1)
                    continue;
                var first = (long)Math.Ceiling(min / step - Slack);
                var last = (long)Math.Floor(max / step + Slack);
                if (last - first + 1 <= maxCount)
                    return new AxisTicks(step, Enumerable.Range(0, (int)(last - first + 1)).Select(k => Value(first + k, mantissa, exponent)).ToArray());
            }
        }
    }

    /// <summary>A tick's label with as many decimals as the step needs (0.4 and 0.45, not 0.4000000001); a percentage when <paramref name="percent"/>.</summary>
    public string Label(double value, bool percent)
    {
        var scaled = percent ? value * 100 : value;
        var step = percent ? Step * 100 : Step;
        // Steps are 1, 2 or 5 times a power of ten, so the power's digits after the point are all a label needs.
        var decimals = Math.Max(0, -(int)Math.Floor(Math.Log10(step) + Slack));
        var text = scaled.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        // A tick a rounding error below zero would print as "-0".
        if (text.TrimStart('-').All(c => c is '0' or '.'))
            text = text.TrimStart('-');
        return percent ? text + "%" : text;
    }

    // index * mantissa * 10^exponent; a negative power divides, so 3 * 10^-1 is the double nearest 0.3, as printed.
    private static double Value(long index, int mantissa, int exponent) =>
        exponent >= 0 ? index * mantissa * Math.Pow(10, exponent) : index * mantissa / Math.Pow(10, -exponent);
}
