using EfficientViT.ML.Data;
using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.Tests.Data;

public class ImageTransformTests
{
    private static ImageSample Constant(int width, int height, params byte[] value)
    {
        var pixels = new byte[width * height * value.Length];
        for (var i = 0; i < pixels.Length; i++)
            pixels[i] = value[i % value.Length];
        return new ImageSample(pixels, width, height, value.Length, 0, "constant");
    }

    private static ImageSample Gradient(int width, int height, int channels)
    {
        var pixels = new byte[width * height * channels];
        for (var i = 0; i < pixels.Length; i++)
            pixels[i] = (byte)(i * 13 % 256);
        return new ImageSample(pixels, width, height, channels, 0, "gradient");
    }

    [Fact]
    public void Bilinear_upscale_matches_values_worked_out_by_hand()
    {
        // Along each axis, 2 → 4 samples at source positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1):
        // weights of the second pixel 0, 1/4, 3/4, 1.
        byte[] source = [0, 100, 200, 40];

        var result = BilinearResize.Resize(source, 2, 2, 1, 4, 4);

        byte[] expected =
        [
            0, 25, 75, 100,     // row 0: the top row
            50, 59, 76, 85,     // row 1: 3/4 top + 1/4 bottom = 50, 58.75, 76.25, 85
            150, 126, 79, 55,   // row 2: 1/4 top + 3/4 bottom = 150, 126.25, 78.75, 55
            200, 160, 80, 40,   // row 3: the bottom row
        ];
        Assert.Equal(expected, result);
    }

    [Fact]
    public void Bilinear_downscale_by_two_averages_pixel_pairs()
    {
        // 4 → 2 samples at source positions 0.5 and 2.5; per channel of an RGB row.
        byte[] source = [10, 0, 255, 30, 100, 255, 50, 7, 0, 71, 9, 0];

        Assert.Equal(new byte[] { 20, 50, 255, 61, 8, 0 }, BilinearResize.Resize(source, 4, 1, 3, 2, 1));
    }

    [Fact]
    public void Eval_transform_of_a_constant_image_is_the_normalized_constant()
    {
        float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        var transform = new ImageTransform(new ImagePreprocessing(16, 0.875, mean, std), train: false);

        var output = transform.Apply(Constant(37, 23, 12, 130, 250));

        byte[] value = [12, 130, 250];
        for (var c = 0; c < 3; c++)
        {
            var expected = (value[c] / 255f - mean[c]) / std[c];
            Assert.All(output[(c * 256)..((c + 1) * 256)], v => Assert.Equal(expected, v, 1e-5f));
        }
    }

    [Fact]
    public void Eval_transform_repeats_a_gray_image_in_three_channels()
    {
        var transform = ImageTransform.FashionMnist(8, train: false);

        var output = transform.Apply(Constant(28, 28, 200));

        Assert.All(output, v => Assert.Equal((200 / 255f - 0.2860f) / 0.3530f, v, 1e-5f));
    }

    [Fact]
    public void Eval_transform_takes_the_centre_after_resizing_the_short_side()
    {
        // 8 wide, 4 high; with CropPercent 1 and size 4 the short side is already 4, so the output is columns 2..5.
        var pixels = new byte[8 * 4];
        for (var i = 0; i < pixels.Length; i++)
            pixels[i] = (byte)(i % 8 * 10);
        var transform = new ImageTransform(new ImagePreprocessing(4, 1.0, [0, 0, 0], [1, 1, 1]), train: false);

        var output = transform.Apply(new ImageSample(pixels, 8, 4, 1, 0, "columns"));

        var firstRow = output[..4].Select(v => (int)Math.Round(v * 255)).ToArray();
        Assert.Equal([20, 30, 40, 50], firstRow);
    }

    // torchvision's Resize(R) of the short side then CenterCrop(S), run by Pillow 9.4 on a 9x7 RGB image with
    // S = 4 and R = 6 (7x6, the window at (2, 1)); printed by Fixtures/golden/make_resize_reference.py. Pillow's
    // 22-bit weights may round a value the other way than these 14-bit ones.
    [Theory]
    [InlineData(ImageInterpolation.Bicubic, new byte[] { 187, 125, 126, 98, 117, 129, 114, 128, 212, 139, 219, 162, 143, 137, 156, 151, 186, 103, 187, 87, 60, 80, 97, 176, 144, 135, 155, 140, 65, 122, 105, 150, 122, 168, 68, 141, 183, 122, 111, 149, 92, 161, 115, 52, 132, 118, 156, 97 })]
    [InlineData(ImageInterpolation.Bilinear, new byte[] { 182, 129, 124, 107, 127, 130, 124, 132, 191, 137, 196, 159, 147, 134, 153, 146, 166, 107, 170, 97, 84, 98, 106, 165, 144, 132, 150, 141, 82, 124, 115, 133, 121, 153, 82, 141, 173, 120, 115, 145, 95, 154, 120, 67, 126, 124, 139, 102 })]
    public void Eval_transform_resizes_and_crops_as_pillow_under_torchvision(ImageInterpolation interpolation, byte[] pillow)
    {
        var transform = new ImageTransform(new ImagePreprocessing(4, 4 / 6.0, [0, 0, 0], [1, 1, 1], Interpolation: interpolation), train: false);
        Assert.Equal(6, transform.Preprocessing.ResizeSize);

        var output = transform.Apply(new ImageSample(Rgb9x7(), 9, 7, 3, 0, "9x7"));

        // Output planes (C, 4, 4) back to whole values in Pillow's (4, 4, C) order.
        var actual = Enumerable.Range(0, pillow.Length).Select(i => (int)Math.Round(output[i % 3 * 16 + i / 3] * 255)).ToArray();
        var differences = actual.Zip(pillow, (a, b) => Math.Abs(a - b)).ToArray();
        Assert.True(differences.Max() <= 1, $"largest difference {differences.Max()}");
        Assert.True(differences.Count(d => d > 0) <= 2, $"{differences.Count(d => d > 0)} of {pillow.Length} values differ");
    }

    // A record written before the interpolation field (null) resizes as those versions did: bilinear without
    // antialiasing, for evaluation and for training crops.
    [Fact]
    public void A_record_without_interpolation_resizes_as_earlier_versions()
    {
        var sample = new ImageSample(Rgb9x7(), 9, 7, 3, 0, "9x7");
        var legacy = new ImagePreprocessing(4, 4 / 6.0, [0, 0, 0], [1, 1, 1], Interpolation: null);

        var evaluation = new ImageTransform(legacy, train: false).Apply(sample);
        var cropped = new ImageTransform(legacy, train: true) { HorizontalFlip = 0, RandomErasing = 0 }.Apply(sample, new Random(3));

        var expected = BilinearResize.Sample(sample.Pixels, 9, 7, 3, 0, 0, 9, 7, 7, 6, 2, 1, 4, 4);
        Assert.Equal(expected.Select(v => (float)v), Planes(evaluation).Select(v => (float)Math.Round(v * 255)));
        var (x, y, w, h) = RandomResizedCrop.Sample(9, 7, (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0), new Random(3));
        var expectedCrop = BilinearResize.Sample(sample.Pixels, 9, 7, 3, x, y, w, h, 4, 4, 0, 0, 4, 4);
        Assert.Equal(expectedCrop.Select(v => (float)v), Planes(cropped).Select(v => (float)Math.Round(v * 255)));

        // (C, 4, 4) planes to (4, 4, C) pixels.
        static float[] Planes(float[] chw) => Enumerable.Range(0, chw.Length).Select(i => chw[i % 3 * 16 + i / 3]).ToArray();
    }

    private static byte[] Rgb9x7() =>
        Enumerable.Range(0, 9 * 7 * 3).Select(i => (byte)(((i / 3 % 9) * 37 + (i / 27) * 91 + (i / 3 % 9) * (i / 27) * 13 + i % 3 * 59) % 256)).ToArray();

    [Fact]
    public void Train_transform_is_deterministic_for_a_seed_and_differs_for_another()
    {
        var transform = new ImageTransform(new ImagePreprocessing(12, 0.875, [0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f]), train: true)
        {
            RandomErasing = 0.5,
            RandAugment = new RandAugment(),
        };
        var sample = Gradient(20, 15, 3);

        var first = transform.Apply(sample, new Random(42));
        var again = transform.Apply(sample, new Random(42));
        var other = transform.Apply(sample, new Random(43));

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
        Assert.Equal(3 * 12 * 12, first.Length);
    }

    [Fact]
    public void Train_transform_flips_horizontally()
    {
        // A crop of the whole square image at its own size is the identity, so only the flip acts.
        var transform = new ImageTransform(new ImagePreprocessing(4, 0.875, [0, 0, 0], [1, 1, 1]), train: true)
        {
            Scale = (1.0, 1.0),
            Ratio = (1.0, 1.0),
            HorizontalFlip = 1.0,
            RandomErasing = 0,
        };
        var sample = Gradient(4, 4, 1);

        var output = transform.Apply(sample, new Random(1));

        for (var y = 0; y < 4; y++)
        for (var x = 0; x < 4; x++)
            Assert.Equal(sample.Pixels[y * 4 + 3 - x] / 255f, output[y * 4 + x], 1e-6f);
    }

    [Fact]
    public void Random_erasing_replaces_one_box_with_noise()
    {
        var transform = new ImageTransform(new ImagePreprocessing(20, 0.875, [0, 0, 0], [1, 1, 1]), train: true)
        {
            Scale = (1.0, 1.0),
            Ratio = (1.0, 1.0),
            RandomErasing = 1.0,
        };

        var output = transform.Apply(Constant(20, 20, 0, 0, 0), new Random(5));

        // Every channel is erased in the same box, which covers 2%–33% of the image.
        var erased = Enumerable.Range(0, 400).Where(p => output[p] != 0).ToArray();
        Assert.InRange(erased.Length, 8, 134);
        for (var c = 1; c < 3; c++)
            Assert.Equal(erased, Enumerable.Range(0, 400).Where(p => output[c * 400 + p] != 0));
        int top = erased.Min() / 20, bottom = erased.Max() / 20, left = erased.Min(p => p % 20), right = erased.Max(p => p % 20);
        Assert.Equal((bottom - top + 1) * (right - left + 1), erased.Length);
    }

    [Fact]
    public void Random_resized_crops_stay_inside_the_image_within_the_scale_range()
    {
        var random = new Random(3);
        for (var i = 0; i < 2000; i++)
        {
            var (x, y, w, h) = RandomResizedCrop.Sample(40, 30, (0.2, 0.9), (0.75, 4.0 / 3.0), random);
            Assert.True(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 40 && y + h <= 30, $"({x}, {y}, {w}, {h})");
            // Rounding each side moves the area a little beyond the nominal range.
            Assert.InRange(w * h / 1200.0, 0.17, 0.95);
        }
    }

    [Fact]
    public void Options_out_of_range_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => new ImageTransform(new ImagePreprocessing(8, 1.5, [0, 0, 0], [1, 1, 1]), false));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImageTransform(new ImagePreprocessing(8, 0.875, [0, 0, 0], [1, 1, 1]), true) { Scale = (0.5, 0.2) });
        Assert.Throws<ArgumentException>(() => new ImageTransform(new ImagePreprocessing(8, 0.875, [0, 0], [1, 1]), false));
    }
}
