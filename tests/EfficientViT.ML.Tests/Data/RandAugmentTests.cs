using EfficientViT.ML.Data;

namespace EfficientViT.ML.Tests.Data;

public class RandAugmentTests
{
    private static ImageSample Gray(int width, int height, params byte[] pixels) => new(pixels, width, height, 1, 4, "gray");

    [Fact]
    public void AutoContrast_stretches_each_channel_to_the_full_range()
    {
        var result = PixelOps.AutoContrast(Gray(3, 1, 50, 100, 150));
        // Scale 255/100: 100 → 127.5, truncated like PIL.
        Assert.Equal(new byte[] { 0, 127, 255 }, result.Pixels);
    }

    [Fact]
    public void Solarize_and_posterize_follow_PIL()
    {
        Assert.Equal(new byte[] { 100, 127, 127, 55 }, PixelOps.Solarize(Gray(4, 1, 100, 127, 128, 200), 128).Pixels);
        Assert.Equal(new byte[] { 0, 0, 128, 128 }, PixelOps.Posterize(Gray(4, 1, 0, 127, 128, 255), 1).Pixels);
    }

    [Fact]
    public void Equalize_spreads_two_levels_apart()
    {
        // Too few pixels: step = (2 − 1) // 255 = 0, and PIL leaves the image unchanged.
        var sample = Gray(2, 1, 10, 20);
        Assert.Equal(new byte[] { 10, 20 }, PixelOps.Equalize(sample).Pixels);

        // 300 pixels at 10 and 300 at 20: step = (600 − 300) // 255 = 1, so 10 maps to 0 and 20 to min(300, 255).
        var pixels = Enumerable.Repeat((byte)10, 300).Concat(Enumerable.Repeat((byte)20, 300)).ToArray();
        var equalized = PixelOps.Equalize(Gray(600, 1, pixels)).Pixels;
        Assert.Equal(0, equalized[0]);
        Assert.Equal(255, equalized[599]);
    }

    [Fact]
    public void Translate_shifts_and_fills()
    {
        var result = AffineOps.Translate(Gray(3, 1, 10, 20, 30), 1, 0, fill: 128);
        Assert.Equal(new byte[] { 20, 30, 128 }, result.Pixels);
    }

    [Fact]
    public void Rotating_by_180_degrees_reverses_the_pixels()
    {
        var result = AffineOps.Rotate(Gray(3, 2, 1, 2, 3, 4, 5, 6), 180, fill: 128);
        Assert.Equal(new byte[] { 6, 5, 4, 3, 2, 1 }, result.Pixels);
    }

    [Fact]
    public void Color_at_factor_zero_is_grayscale_and_brightness_at_zero_is_black()
    {
        var rgb = new ImageSample([255, 0, 0, 0, 0, 255], 2, 1, 3, 0, "rgb");
        // PIL's luma of pure red is 76 and of pure blue 29.
        Assert.Equal(new byte[] { 76, 76, 76, 29, 29, 29 }, PixelOps.Color(rgb, 0).Pixels);
        Assert.All(PixelOps.Brightness(rgb, 0).Pixels, p => Assert.Equal(0, p));
    }

    [Fact]
    public void Every_operation_keeps_size_channels_label_and_source()
    {
        var pixels = Enumerable.Range(0, 7 * 5 * 3).Select(i => (byte)(i * 29 % 256)).ToArray();
        var sample = new ImageSample(pixels, 7, 5, 3, 2, "ops");
        foreach (var op in RandAugment.Ops)
        {
            var result = RandAugment.ApplyOp(op, sample, 9, new Random(1), 128);
            Assert.Equal((7, 5, 3, 2, "ops"), (result.Width, result.Height, result.Channels, result.Label, result.Source));
        }
        Assert.Equal(14, RandAugment.Ops.Count);
    }

    [Fact]
    public void RandAugment_is_deterministic_for_a_seed()
    {
        var pixels = Enumerable.Range(0, 16 * 16 * 3).Select(i => (byte)(i * 31 % 256)).ToArray();
        var sample = new ImageSample(pixels, 16, 16, 3, 0, "ra");
        var augment = new RandAugment();

        var results = Enumerable.Range(0, 20).Select(seed => augment.Apply(sample, new Random(seed)).Pixels).ToList();
        var again = Enumerable.Range(0, 20).Select(seed => augment.Apply(sample, new Random(seed)).Pixels).ToList();

        Assert.Equal(results, again);
        Assert.Contains(results, r => !r.SequenceEqual(pixels));
        Assert.Equal(pixels, sample.Pixels);
    }
}
