using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Tests.MLNet;
using EfficientViT.ML.Tests.Modeling;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.InputSize;

public class FeaturizerInputSizeTests
{
    private static readonly string OfficialM0 = TestFiles.OfficialM0("efficientvit_m0.pth");

    [Fact]
    public void A_pipeline_fitted_at_160_saves_and_gives_the_same_features_in_a_fresh_process()
    {
        using var dir = new TempDirectory();
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 2, size: 90, seed: 21);
        var mlContext = new MLContext(seed: 0);
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var pipeline = mlContext.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageRow.ImagePath))
            .Append(mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { ModelPath = OfficialM0, ImageSize = 160 }));
        using var fitted = pipeline.Fit(data);

        var features = fitted.Transform(data).GetColumn<float[]>("Features").ToList();
        var zip = Path.Combine(dir.Path, "m0-160.zip");
        mlContext.Model.Save(fitted, data.Schema, zip);
        var fresh = TestImages.RunInFreshProcess(zip, rows.Select(r => r.ImagePath), dir.Path);

        Assert.Equal(192, features[0].Length);
        var maxDiff = features.Zip(fresh, (a, b) => a.Zip(b.Features, (x, y) => Math.Abs(x - y)).Max()).Max();
        Assert.True(maxDiff <= 1e-5, $"features differ by {maxDiff} after loading in a fresh process");
    }

    [Fact]
    public void The_featurizer_at_160_gives_the_features_of_the_checkpoint_loaded_at_160()
    {
        // Random weights keep activations moderate (the official fixture's BatchNorm statistics are made to
        // amplify every difference, which random inputs then blow up).
        using var dir = new TempDirectory();
        var path = dir.File("m0-224.safetensors");
        using (var model = EfficientVit.Create(EfficientVitVariant.M0, 224, numClasses: 0))
        {
            RandomWeights.Apply(model);
            EfficientVitCheckpoint.Save(model, path);
        }
        var random = new Random(3);
        var pixels = Enumerable.Range(0, 2 * 3 * 160 * 160).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(new[] { new PixelRow { Pixels = pixels[..(3 * 160 * 160)] }, new PixelRow { Pixels = pixels[(3 * 160 * 160)..] } });

        using var featurizer = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions
            { ModelPath = path, ImageSize = 160, InputColumnName = nameof(PixelRow.Pixels) }).Fit(data);
        var features = featurizer.Transform(data).GetColumn<float[]>("Features").SelectMany(f => f).ToArray();

        using var loaded = EfficientVitCheckpoint.Load(path, new CheckpointLoadOptions { ImageSize = 160 });
        Assert.Equal(224, loaded.Metadata.TrainedImageSize);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var expected = loaded.Model.PooledFeatures(tensor(pixels, 2, 3, 160, 160)).data<float>().ToArray();
        Assert.Equal(expected.Length, features.Length);
        var maxDiff = expected.Zip(features, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff <= 1e-4f, $"max abs difference {maxDiff}");
    }

    [Fact]
    public void An_in_memory_model_resized_equals_the_checkpoint_loaded_at_that_size()
    {
        using var at224 = EfficientVitCheckpoint.Load(OfficialM0);
        using var resized = at224.Model.WithImageSize(192);
        using var loaded = EfficientVitCheckpoint.Load(OfficialM0, new CheckpointLoadOptions { ImageSize = 192 });

        Assert.Equal(192, resized.Config.ImageSize);
        var expected = loaded.Model.state_dict();
        foreach (var (key, value) in resized.state_dict())
            Assert.True(value.eq(expected[key]).all().item<bool>(), key);
    }

    [Fact]
    public void Pixel_vectors_of_another_size_are_refused_naming_the_model_size_and_the_option()
    {
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(new[] { new PixelRow192 { Pixels = new float[3 * 192 * 192] } });

        var error = Assert.ThrowsAny<ArgumentException>(() => mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions
            { ModelPath = OfficialM0, InputColumnName = nameof(PixelRow192.Pixels) }).Fit(data));

        Assert.Contains("224x224", error.Message);
        Assert.Contains("ImageSize", error.Message);
    }

    [Theory]
    [InlineData(8192, "ImageSize")]
    [InlineData(4112, "ImageSize")]
    [InlineData(16, "ImageSize")]
    [InlineData(8192, "Preprocessing.ImageSize")]
    public void An_image_size_out_of_range_is_refused_when_the_featurizer_is_made_naming_the_option_and_the_range(int size, string option)
    {
        var mlContext = new MLContext();
        var options = option == "ImageSize"
            ? new EfficientVitFeaturizerOptions { ModelPath = OfficialM0, ImageSize = size }
            : new EfficientVitFeaturizerOptions { ModelPath = OfficialM0, Preprocessing = Preprocessing.ImagePreprocessing.ImageNet(size) };

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => mlContext.Transforms.EfficientVitFeaturize(options));

        Assert.StartsWith($"EfficientVitFeaturize: {option} must be a multiple of 16 (the patch embedding's stride) from 32 to 4096; found {size}.", error.Message);
    }

    private sealed class PixelRow
    {
        [VectorType(3, 160, 160)]
        public float[] Pixels { get; set; } = [];
    }

    private sealed class PixelRow192
    {
        [VectorType(3, 192, 192)]
        public float[] Pixels { get; set; } = [];
    }
}
