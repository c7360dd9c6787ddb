using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Modeling;

public class LocalWindowAttentionTests
{
    [Theory]
    [InlineData(2, 14, 14, 7)]
    [InlineData(1, 6, 9, 3)]
    public void Partition_then_reverse_is_the_identity(int batch, int height, int width, int window)
    {
        using var scope = NewDisposeScope();
        var x = randn(batch, height, width, 5);
        var windows = LocalWindowAttention.PartitionWindows(x, window);
        Assert.Equal(new long[] { batch * (height / window) * (width / window), 5, window, window }, windows.shape);
        var back = LocalWindowAttention.ReverseWindows(windows, batch, height, width, window);
        Assert.True(TestFiles.MaxAbsDiff(x, back) == 0);
    }

    [Fact]
    public void Windows_are_the_row_major_tiles_of_the_map()
    {
        using var scope = NewDisposeScope();
        var x = arange(2 * 6 * 9 * 2, dtype: ScalarType.Float32).reshape(2, 6, 9, 2);
        var windows = LocalWindowAttention.PartitionWindows(x, 3);
        var index = 0;
        for (var b = 0; b < 2; b++)
            for (var row = 0; row < 2; row++)
                for (var col = 0; col < 3; col++, index++)
                {
                    var tile = x[b, (row * 3)..(row * 3 + 3), (col * 3)..(col * 3 + 3)].permute(2, 0, 1);
                    Assert.True(TestFiles.MaxAbsDiff(tile, windows[index]) == 0, $"window {index}");
                }
    }

    [Theory]
    [InlineData(9, 9)]   // padded to 12x12 with windows of 4
    [InlineData(8, 8)]   // an exact multiple: no padding
    public void Large_maps_attend_per_window_with_bottom_right_zero_padding(int height, int width)
    {
        const int window = 4, dim = 8;
        using var attention = new LocalWindowAttention(dim, keyDim: 4, numHeads: 2, valueDim: 4, resolution: Math.Max(height, width), windowResolution: window, kernels: [3, 3]);
        RandomWeights.Apply(attention);
        attention.eval();
        using var scope = NewDisposeScope();
        var x = randn(2, dim, height, width, generator: new Generator(11));

        // Reference: pad with zeros, run the inner attention on every window separately, stitch, crop.
        var padded = zeros(2, dim, (height + window - 1) / window * window, (width + window - 1) / window * window);
        padded[.., .., ..height, ..width] = x;
        var stitched = zeros_like(padded);
        for (var top = 0; top < padded.shape[2]; top += window)
            for (var left = 0; left < padded.shape[3]; left += window)
                stitched[.., .., top..(top + window), left..(left + window)] =
                    attention.Attention.forward(padded[.., .., top..(top + window), left..(left + window)].contiguous());
        var expected = stitched[.., .., ..height, ..width];

        Assert.True(TestFiles.MaxAbsDiff(expected, attention.forward(x)) < 1e-5f);
    }

    [Fact]
    public void Maps_within_the_window_attend_globally()
    {
        using var attention = new LocalWindowAttention(8, 4, 2, 4, resolution: 4, windowResolution: 7, kernels: [3, 3]);
        RandomWeights.Apply(attention);
        attention.eval();
        using var scope = NewDisposeScope();
        var x = randn(1, 8, 4, 4);
        Assert.Equal(4, attention.Attention.Resolution);
        Assert.True(TestFiles.MaxAbsDiff(attention.Attention.forward(x), attention.forward(x)) == 0);
    }
}
