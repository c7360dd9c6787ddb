using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Preprocessing;
using EfficientViT.ML.Tests.Modeling;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.MLNet;

public class FeaturizerEngineTests
{
    // The parity check: the featurizer's features are the BN-fused TorchSharp model's on the same pixels.
    // The images go through ML.NET's ResizeImages and the managed bicubic resampler (whose pixels equal the
    // graph's, as the test below shows), then are normalized and scored in torch.
    [Fact]
    public void Featurizer_gives_the_features_of_the_fused_TorchSharp_model()
    {
        using var dir = new TempDirectory();
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 3, size: 50, seed: 13);
        using var model = EfficientVit.Create(EfficientVitVariant.M0, numClasses: 5);
        RandomWeights.Apply(model);
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var images = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath)).Fit(data).Transform(data);
        var preprocessing = ImagePreprocessing.ImageNet();

        using var featurizer = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { InputColumnName = "Image", Model = model, BatchSize = 4 }).Fit(images);
        var features = featurizer.Transform(images).GetColumn<float[]>("Features").ToList();
        var resized = mlContext.Transforms.ResizeImages("Resized", preprocessing.ImageSize, preprocessing.ImageSize, "Image",
            Microsoft.ML.Transforms.Image.ImageResizingEstimator.ResizingKind.IsoCrop).Fit(images).Transform(images);
        var expected = TorchSharpFeatures(model, resized, preprocessing);

        Assert.Equal(rows.Count, features.Count);
        for (var i = 0; i < rows.Count; i++)
            Assert.True(features[i].Zip(expected[i], (a, b) => Math.Abs(a - b)).Max() <= 1e-4f, $"row {i}");
    }

    private static List<float[]> TorchSharpFeatures(EfficientVit model, IDataView resized, ImagePreprocessing preprocessing)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var noGrad = TorchSharp.torch.no_grad();
        using var fused = new EfficientVit(model.Config);
        fused.load_state_dict(model.state_dict());
        fused.FuseBatchNorm();
        fused.eval();
        var side = preprocessing.ImageSize;
        var resampler = new ImageResampler(side, preprocessing.ResizeSize, preprocessing.PixelMean);
        var scratch = new ImageResampler.Scratch(resampler);
        // The resampler gives pixels 0-255 minus 255 * mean; the normalization divides by 255 * std.
        var scale = TorchSharp.torch.tensor(preprocessing.Std.Select(s => 1f / (255f * s)).ToArray(), 1, 3, 1, 1);
        var features = new List<float[]>();
        // The cursor owns each image until it moves on: each is resampled before the next is read.
        using var cursor = resized.GetRowCursor([resized.Schema["Resized"]]);
        var getImage = cursor.GetGetter<MLImage>(resized.Schema["Resized"]);
        MLImage image = null!;
        while (cursor.MoveNext())
        {
            getImage(ref image);
            var centred = new float[3 * side * side];
            resampler.Write(image, centred, scratch);
            var x = TorchSharp.torch.tensor(centred, 1, 3, side, side) * scale;
            features.Add(fused.PooledFeatures(x).flatten().data<float>().ToArray());
        }
        return features;
    }

    [Fact]
    public void Concurrent_onnx_runtime_calls_give_the_features_of_one_call_at_a_time()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 0);
        RandomWeights.Apply(model);
        var graph = EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions { IncludeLogits = false });
        using var scorer = new OnnxFeatureSession(graph, "input", "features", threads: 2, OnnxDevice.Cpu);
        var random = new Random(21);
        var inputs = Enumerable.Range(0, 6).Select(_ =>
        {
            var values = new float[3 * scorer.InputSize];
            for (var i = 0; i < values.Length; i++)
                values[i] = (float)(random.NextDouble() * 4 - 2);
            return values;
        }).ToArray();
        float[] Score(float[] input)
        {
            var features = new float[3 * scorer.FeatureSize];
            scorer.Run(input, 3, features);
            return features;
        }

        var oneAtATime = inputs.Select(Score).ToArray();
        // Six callers, two sessions: four wait for a free one.
        var together = inputs.AsParallel().AsOrdered().WithDegreeOfParallelism(6).Select(Score).ToArray();

        Assert.Equal(2, scorer.Concurrency);
        Assert.Contains(oneAtATime[0], value => value != 0);
        for (var i = 0; i < inputs.Length; i++)
            Assert.Equal(oneAtATime[i], together[i]);
        Assert.NotEqual(oneAtATime[0], oneAtATime[1]);
    }

    // In memory the images are resampled in managed code; the saved chain resamples in its graph. Both
    // compute the same whole pixel values, so the features are identical, not merely close: 224 -> 256
    // (strided convolutions in the graph), 64 -> 73 (matrices), and a grayscale model without a resize.
    [Theory]
    [InlineData(224, 0.875, false)]
    [InlineData(64, 0.875, false)]
    [InlineData(64, 1.0, true)]
    public void In_memory_scoring_gives_exactly_the_saved_chain_s_features(int imageSize, double cropPercent, bool grayscale)
    {
        using var dir = new TempDirectory();
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 3, size: 50, seed: 14);
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize, numClasses: 0);
        RandomWeights.Apply(model);
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var images = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath)).Fit(data).Transform(data);
        using var featurizer = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions
        {
            InputColumnName = "Image", Model = model, BatchSize = 4,
            Preprocessing = new ImagePreprocessing(imageSize, cropPercent, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], grayscale),
        }).Fit(images);

        var inMemory = featurizer.Transform(images).GetColumn<float[]>("Features").ToList();
        var saved = featurizer.AsMLNetChain().Transform(images).GetColumn<float[]>("Features").ToList();

        Assert.Equal(rows.Count, inMemory.Count);
        for (var i = 0; i < rows.Count; i++)
            Assert.Equal(saved[i], inMemory[i]);
    }
}
