using EfficientViT.ML.MLNet;
using EfficientViT.ML.Tests.Onnx;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.MLNet;

public class ImageResamplerTests
{
    // 224 -> 256 is the ImageNet evaluation resize; 64 -> 73 and 45 -> 51 have no short period, and 45 is
    // not a multiple of the vector width; 64 -> 64 only splits the channels.
    [Theory]
    [InlineData(224, 256, MLPixelFormat.Rgba32)]
    [InlineData(224, 256, MLPixelFormat.Bgra32)]
    [InlineData(64, 73, MLPixelFormat.Rgba32)]
    [InlineData(45, 51, MLPixelFormat.Bgra32)]
    [InlineData(64, 64, MLPixelFormat.Bgra32)]
    public void Upsampled_pixels_equal_a_hand_written_pil_style_resize_exactly(int size, int resize, MLPixelFormat format)
    {
        var (bytes, planes) = RandomImage(size, format, seed: size + resize);
        using var image = MLImage.CreateFromPixels(size, size, format, bytes);
        var resampler = new ImageResampler(size, resize);
        var output = new float[resampler.OutputSize];

        resampler.Write(image, output, new ImageResampler.Scratch(resampler));

        var expected = resize == size ? planes : PilStyleResize.ResizeAndCrop(planes, size, resize, fractionBits: 14);
        Assert.Equal(expected.Select(p => (float)p), output);
    }

    [Theory]
    [InlineData(224, 256)]
    [InlineData(64, 64)]
    public void The_normalization_s_pixel_mean_is_subtracted_per_channel(int size, int resize)
    {
        var (bytes, planes) = RandomImage(size, MLPixelFormat.Bgra32, seed: 4);
        using var image = MLImage.CreateFromPixels(size, size, MLPixelFormat.Bgra32, bytes);
        float[] pixelMean = [123.675f, 116.28f, 103.53f];
        var resampler = new ImageResampler(size, resize, pixelMean);
        var output = new float[resampler.OutputSize];

        resampler.Write(image, output, new ImageResampler.Scratch(resampler));

        var expected = resize == size ? planes : PilStyleResize.ResizeAndCrop(planes, size, resize, fractionBits: 14);
        Assert.Equal(expected.Select((p, i) => p - pixelMean[i / (size * size)]), output);
    }

    [Fact]
    public void Upsampled_pixels_stay_within_one_level_of_pil_s_own_precision()
    {
        // PIL keeps 22 fraction bits in its weights; 14 move a rounding at a few pixels only.
        const int size = 224, resize = 256;
        var (bytes, planes) = RandomImage(size, MLPixelFormat.Rgba32, seed: 9);
        using var image = MLImage.CreateFromPixels(size, size, MLPixelFormat.Rgba32, bytes);
        var resampler = new ImageResampler(size, resize);
        var output = new float[resampler.OutputSize];
        resampler.Write(image, output, new ImageResampler.Scratch(resampler));

        var pil = PilStyleResize.ResizeAndCrop(planes, size, resize, fractionBits: 22);
        var differences = output.Zip(pil, (a, b) => Math.Abs(a - b)).ToArray();
        Assert.True(differences.Max() <= 1, $"max difference {differences.Max()}");
        Assert.True(differences.Count(d => d > 0) < output.Length / 100, $"{differences.Count(d => d > 0)} of {output.Length} values differ");
    }

    [Fact]
    public void An_image_of_the_wrong_size_is_reported()
    {
        using var image = MLImage.CreateFromPixels(30, 20, MLPixelFormat.Rgba32, new byte[30 * 20 * 4]);
        var resampler = new ImageResampler(32, 36);
        var error = Assert.Throws<InvalidOperationException>(() => resampler.Write(image, new float[resampler.OutputSize], new ImageResampler.Scratch(resampler)));
        Assert.Contains("30x20", error.Message);
        Assert.Contains("32x32", error.Message);
    }

    // Random opaque pixels in the given layout, and their R, G, B planes.
    private static (byte[] Bytes, int[] Planes) RandomImage(int size, MLPixelFormat format, int seed)
    {
        var random = new Random(seed);
        var bytes = new byte[size * size * 4];
        random.NextBytes(bytes);
        var (red, blue) = format == MLPixelFormat.Bgra32 ? (2, 0) : (0, 2);
        var area = size * size;
        var planes = new int[3 * area];
        for (var i = 0; i < area; i++)
        {
            bytes[4 * i + 3] = 255;
            planes[i] = bytes[4 * i + red];
            planes[area + i] = bytes[4 * i + 1];
            planes[2 * area + i] = bytes[4 * i + blue];
        }
        return (bytes, planes);
    }
}
