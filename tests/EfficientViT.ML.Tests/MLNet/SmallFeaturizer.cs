using EfficientViT.ML.Modeling;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using TorchSharp;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>The narrow 64×64 network of the saved-zip fixtures (every kind of layer M0 has, quick to score) and random images for it.</summary>
internal static class SmallFeaturizer
{
    public sealed class ImageRow
    {
        [ImageType(64, 64)]
        public MLImage? Image { get; set; }
    }

    public sealed class FeatureRow
    {
        public float[] Features { get; set; } = [];
    }

    public static EfficientVit Model(int seed)
    {
        torch.manual_seed(seed);
        var model = new EfficientVit(new EfficientVitConfig([16, 32, 48], [1, 1, 1], [2, 2, 2], [5, 5, 5, 5], ImageSize: 64, NumClasses: 0));
        model.eval();
        foreach (var (name, buffer) in model.named_buffers())
            if (name.EndsWith("running_var", StringComparison.Ordinal))
                buffer.copy_(torch.rand(buffer.shape) + 0.5f);
        return model;
    }

    /// <summary>Images of several sizes, new ones on each call (ResizeImages disposes an image it passes on once read).</summary>
    public static ImageRow[] Images(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i =>
        {
            int width = 40 + 13 * (i % 7), height = 100 - 9 * (i % 6);
            var rgba = new byte[width * height * 4];
            random.NextBytes(rgba);
            return new ImageRow { Image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba) };
        }).ToArray();
    }

    public static float[][] Features(ITransformer model, IDataView data) => model.Transform(data).GetColumn<float[]>("Features").ToArray();

    public static float MaxAbsDifference(float[][] a, float[][] b)
    {
        Assert.Equal(a.Length, b.Length);
        return a.Zip(b, (x, y) => x.Zip(y, (p, q) => Math.Abs(p - q)).Max()).Max();
    }
}
