using EfficientViT.ML.Data;
using EfficientViT.ML.MLNet;
using EfficientViT.ML.Preprocessing;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>
/// One evaluation protocol: for the same S×S image, the network input of <c>efficientvit eval</c> and training
/// validation (the evaluation <see cref="ImageTransform"/>) is the featurizer's. The featurizer's input is what its
/// in-memory resampling writes (<see cref="ImageResampler"/>, made as the featurizer makes it; the saved graph
/// computes the same, see FeaturizerPipelineTests), normalized as its graph does: (v − 255·mean) · 1/(255·std).
/// </summary>
public class EvalAndFeaturizerInputTests
{
    [Theory]
    [InlineData(224, 0.875, ImageInterpolation.Bicubic)]
    [InlineData(64, 0.875, ImageInterpolation.Bicubic)]
    [InlineData(64, 0.875, ImageInterpolation.Bilinear)]
    [InlineData(64, 1.0, ImageInterpolation.Bicubic)]
    public void For_the_same_image_eval_s_input_tensor_is_the_featurizer_s(int size, double crop, ImageInterpolation interpolation)
    {
        var preprocessing = ImagePreprocessing.ImageNet(size) with { CropPercent = crop, Interpolation = interpolation };
        var random = new Random(size);
        var rgba = new byte[size * size * 4];
        random.NextBytes(rgba);
        var rgb = new byte[size * size * 3];
        for (var i = 0; i < size * size; i++)
        {
            rgba[4 * i + 3] = 255;
            rgb[3 * i] = rgba[4 * i];
            rgb[3 * i + 1] = rgba[4 * i + 1];
            rgb[3 * i + 2] = rgba[4 * i + 2];
        }

        var eval = new ImageTransform(preprocessing, train: false).Apply(new ImageSample(rgb, size, size, 3, 0, "random"));

        using var image = MLImage.CreateFromPixels(size, size, MLPixelFormat.Rgba32, rgba);
        var resampler = new ImageResampler(size, preprocessing.ResizeSize, preprocessing.PixelMean, preprocessing.GraphInterpolation);
        var centred = new float[resampler.OutputSize];
        resampler.Write(image, centred, new ImageResampler.Scratch(resampler));
        var area = size * size;
        var featurizer = centred.Select((v, i) => v * (1f / (255f * preprocessing.Std[i / area]))).ToArray();

        // The same whole pixel values, and the same normalized tensor to float32 rounding.
        var evalPixels = eval.Select((v, i) => (int)Math.Round((v * preprocessing.Std[i / area] + preprocessing.Mean[i / area]) * 255)).ToArray();
        var featurizerPixels = centred.Select((v, i) => (int)Math.Round(v + preprocessing.PixelMean[i / area])).ToArray();
        Assert.Equal(featurizerPixels, evalPixels);
        Assert.True(featurizerPixels.Distinct().Count() > 200, "the image has detail");
        var largest = eval.Zip(featurizer, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(largest < 1e-5f, $"the normalized tensors differ by {largest}");
    }
}
