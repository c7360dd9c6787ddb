using EfficientViT.Reporting;

namespace EfficientViT.ML.Tests.Reporting;

public class AxisTicksTests
{
    // Each case worked by hand: the smallest step of 1, 2 or 5 x 10^k that keeps to the count, and the
    // multiples of that step inside the range.
    [Theory]
    [InlineData(0.37, 0.93, 6, false, 0.1, new[] { 0.4, 0.5, 0.6, 0.7, 0.8, 0.9 })]             // 0.05 would give 11
    [InlineData(0.0, 1.0, 6, false, 0.2, new[] { 0.0, 0.2, 0.4, 0.6, 0.8, 1.0 })]               // 0.1 would give 11
    [InlineData(-3.2, 4.7, 6, false, 2.0, new[] { -2.0, 0.0, 2.0, 4.0 })]                       // 1 would give 8
    [InlineData(0.1, 0.3, 6, false, 0.05, new[] { 0.1, 0.15, 0.2, 0.25, 0.3 })]                 // both ends are ticks despite 0.1 / 0.05 > 2
    [InlineData(0.0012, 0.0047, 6, false, 0.001, new[] { 0.002, 0.003, 0.004 })]                // 0.0005 would give 7
    [InlineData(120.0, 980.0, 6, false, 200.0, new[] { 200.0, 400.0, 600.0, 800.0 })]           // 100 would give 9
    [InlineData(1.0, 8.0, 10, true, 1.0, new[] { 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0 })]     // eight epochs, each numbered
    [InlineData(1.0, 2.0, 10, true, 1.0, new[] { 1.0, 2.0 })]                                   // never 1.5 epochs
    [InlineData(1.0, 30.0, 10, true, 5.0, new[] { 5.0, 10.0, 15.0, 20.0, 25.0, 30.0 })]         // 2 would give 15
    [InlineData(1.0, 1.0, 10, true, 1.0, new[] { 1.0 })]                                        // a single epoch
    public void Ticks_step_by_one_two_or_five_times_a_power_of_ten(double min, double max, int maxCount, bool integers, double step, double[] expected)
    {
        var ticks = AxisTicks.Nice(min, max, maxCount, integers);

        Assert.Equal(step, ticks.Step, 12);
        Assert.Equal(expected.Length, ticks.Values.Count);
        for (var i = 0; i < expected.Length; i++)
            Assert.Equal(expected[i], ticks.Values[i], 12);
    }

    [Fact]
    public void Labels_have_the_decimals_of_the_step_and_no_more()
    {
        var tenths = AxisTicks.Nice(0.37, 0.93, 6);
        Assert.Equal(new[] { "0.4", "0.5", "0.6", "0.7", "0.8", "0.9" }, tenths.Values.Select(v => tenths.Label(v, percent: false)));

        var twentieths = AxisTicks.Nice(0.1, 0.3, 6);
        Assert.Equal(new[] { "0.10", "0.15", "0.20", "0.25", "0.30" }, twentieths.Values.Select(v => twentieths.Label(v, percent: false)));

        var hundreds = AxisTicks.Nice(120, 980, 6);
        Assert.Equal(new[] { "200", "400", "600", "800" }, hundreds.Values.Select(v => hundreds.Label(v, percent: false)));

        var zeroCrossing = AxisTicks.Nice(-3.2, 4.7, 6);
        Assert.Equal(new[] { "-2", "0", "2", "4" }, zeroCrossing.Values.Select(v => zeroCrossing.Label(v, percent: false)));
    }

    [Fact]
    public void Percent_labels_scale_fractions_and_keep_only_the_decimals_the_step_needs()
    {
        var whole = AxisTicks.Nice(0.0, 1.0, 6);
        Assert.Equal(new[] { "0%", "20%", "40%", "60%", "80%", "100%" }, whole.Values.Select(v => whole.Label(v, percent: true)));

        // A step of 0.005 is half a percent.
        var fine = AxisTicks.Nice(0.912, 0.934, 6);
        Assert.Equal(0.005, fine.Step, 12);
        Assert.Equal(new[] { "91.5%", "92.0%", "92.5%", "93.0%" }, fine.Values.Select(v => fine.Label(v, percent: true)));
    }

    [Fact]
    public void Ranges_that_are_not_finite_or_reversed_are_refused()
    {
        Assert.Throws<ArgumentException>(() => AxisTicks.Nice(double.NaN, 1, 6));
        Assert.Throws<ArgumentException>(() => AxisTicks.Nice(0, double.PositiveInfinity, 6));
        Assert.Throws<ArgumentException>(() => AxisTicks.Nice(2, 1, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => AxisTicks.Nice(0, 1, 1));
    }
}
