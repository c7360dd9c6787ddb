using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Tests.Modeling;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using TorchSharp;
using static TorchSharp.torch;
using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.Tests.MLNet;

public class FeaturizerBehaviourTests
{
    private static readonly string CheckpointPath = TestFiles.OfficialM0("efficientvit_m0.pth");

    private sealed class InMemoryImage
    {
        [ImageType(224, 224)]
        public MLImage? Image { get; set; }
    }

    private sealed class SmallInMemoryImage
    {
        [ImageType(64, 64)]
        public MLImage? Image { get; set; }
    }

    private sealed class FeaturesRow
    {
        public float[] Features { get; set; } = [];
    }

    [Fact]
    public void Channel_order_crop_and_normalization_match_an_independent_computation()
    {
        // A 224x224 image and no crop margin, so that no resampling happens: the featurizer must feed
        // the pixels in RGB order as (p/255 - mean)/std. (The bicubic resize is tested on the graph.)
        var random = new Random(3);
        var rgba = new byte[224 * 224 * 4];
        random.NextBytes(rgba);
        for (var i = 3; i < rgba.Length; i += 4) rgba[i] = 255;
        // A well-conditioned model: the official fixture's perturbed statistics make it chaotic on
        // uniform-noise images (its own fused and unfused forms then differ by ~10).
        using var model = EfficientVit.Create(EfficientVitVariant.M0, numClasses: 0);
        RandomWeights.Apply(model);
        model.eval();
        var mlContext = new MLContext();
        using var image = MLImage.CreateFromPixels(224, 224, MLPixelFormat.Rgba32, rgba);
        var data = mlContext.Data.LoadFromEnumerable(new[] { new InMemoryImage { Image = image } });
        float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        var features = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions
            {
                InputColumnName = "Image", Model = model, Preprocessing = new ImagePreprocessing(224, CropPercent: 1.0, mean, std),
            })
            .Fit(data).Transform(data).GetColumn<float[]>("Features").Single();

        var input = new float[3 * 224 * 224];
        for (var c = 0; c < 3; c++)
            for (var y = 0; y < 224; y++)
                for (var x = 0; x < 224; x++)
                    input[(c * 224 + y) * 224 + x] = (rgba[(y * 224 + x) * 4 + c] / 255f - mean[c]) / std[c];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var expected = model.PooledFeatures(tensor(input, 1, 3, 224, 224))[0];

        var difference = TestFiles.MaxAbsDiff(expected, tensor(features));
        Assert.True(difference <= 1e-4f, $"max abs difference {difference}; first features {features[0]} vs {expected[0].item<float>()}");
    }

    [Fact]
    public void Prediction_engine_parallel_readers_and_batches_give_the_same_features()
    {
        using var dir = new TempDirectory();
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 7, size: 40, seed: 5);
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var pipeline = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath))
            .Append(mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions
            {
                InputColumnName = "Image", OutputColumnName = "Features", ModelPath = CheckpointPath, BatchSize = 4,
            }));
        var model = pipeline.Fit(data);
        var batched = model.Transform(data).GetColumn<float[]>("Features").ToList();

        var engine = mlContext.Model.CreatePredictionEngine<ImageRow, FeaturesRow>(model);
        var single = rows.Select(r => engine.Predict(r).Features).ToList();

        var concurrent = Enumerable.Range(0, 3).AsParallel().WithDegreeOfParallelism(3)
            .Select(_ => model.Transform(data).GetColumn<float[]>("Features").ToList()).ToList();

        Assert.Equal(rows.Count, batched.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            Assert.True(batched[i].Zip(single[i], (a, b) => Math.Abs(a - b)).Max() <= 1e-5f, $"row {i}: batch vs PredictionEngine");
            foreach (var run in concurrent)
                Assert.Equal(batched[i], run[i]);
        }
    }

    [Theory]
    [InlineData(112, true)]
    [InlineData(64, false)]
    public void A_model_trained_with_1x1_maps_run_at_a_larger_size_is_warned_about_in_the_ml_context_s_log(int imageSize, bool warned)
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 0);
        var mlContext = new MLContext();
        var warnings = new List<string>();
        mlContext.Log += (_, e) =>
        {
            if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning)
                lock (warnings)
                    warnings.Add(e.Message);
        };
        mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { InputColumnName = "Image", Model = model, ImageSize = imageSize });
        Assert.Equal(warned, warnings.Any(w => w.Contains("stage 3 (blocks3) had 1x1 feature maps", StringComparison.Ordinal) && w.Contains("112x112", StringComparison.Ordinal)));
    }

    [Fact]
    public void In_memory_images_already_at_the_model_size_read_a_second_time_get_an_error_that_says_why()
    {
        // ML.NET's ResizeImages hands on an image that needs no resizing and disposes it once read, so a
        // second pass over the same MLImage objects finds them disposed; the error must say so, not just "disposed object".
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 0);
        model.eval();
        var mlContext = new MLContext();
        var images = Enumerable.Range(0, 2).Select(_ => MLImage.CreateFromPixels(64, 64, MLPixelFormat.Rgba32, new byte[64 * 64 * 4])).ToArray();
        var data = mlContext.Data.LoadFromEnumerable(images.Select(image => new SmallInMemoryImage { Image = image }));
        var featurizer = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions
        {
            InputColumnName = "Image", Model = model, Preprocessing = new ImagePreprocessing(64, CropPercent: 1.0, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]),
        }).Fit(data);
        Assert.Equal(2, featurizer.Transform(data).GetColumn<float[]>("Features").Count());

        var error = Assert.ThrowsAny<Exception>(() => featurizer.Transform(data).GetColumn<float[]>("Features").ToList());
        var messages = TestFiles.Messages(error);
        Assert.True(messages.Any(m => m.Contains("row 0", StringComparison.Ordinal) && m.Contains("'Image'", StringComparison.Ordinal)
            && m.Contains("ResizeImages", StringComparison.Ordinal) && m.Contains("new MLImage objects", StringComparison.Ordinal)), string.Join(" / ", messages));
    }

    [Fact]
    public void Missing_and_corrupt_images_name_the_row_and_do_not_crash()
    {
        using var dir = new TempDirectory();
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 1, size: 32, seed: 6);
        var corrupt = Path.Combine(dir.Path, "corrupt.png");
        File.WriteAllBytes(corrupt, [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3]);
        var empty = Path.Combine(dir.Path, "empty.png");
        File.WriteAllBytes(empty, []);
        var mlContext = new MLContext();
        var estimator = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath))
            .Append(mlContext.Transforms.EfficientVitFeaturize("Features", "Image", CheckpointPath));

        foreach (var bad in new[] { corrupt, empty, Path.Combine(dir.Path, "absent.png") })
        {
            var data = mlContext.Data.LoadFromEnumerable(rows.Append(new ImageRow { ImagePath = bad }));
            var model = estimator.Fit(data);
            var error = Assert.ThrowsAny<Exception>(() => model.Transform(data).GetColumn<float[]>("Features").ToList());
            // ML.NET may wrap the error in its own; ours, with the row, is in the chain.
            var messages = TestFiles.Messages(error);
            Assert.True(messages.Any(m => m.Contains("row 3", StringComparison.Ordinal) && m.Contains("'Image'", StringComparison.Ordinal)), string.Join(" / ", messages));
            if (bad != corrupt && bad != empty)
                Assert.Contains(messages, m => m.Contains("absent.png", StringComparison.Ordinal));
        }
    }
}
