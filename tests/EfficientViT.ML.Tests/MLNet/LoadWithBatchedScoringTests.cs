using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using FeatureRow = EfficientViT.ML.Tests.MLNet.SmallFeaturizer.FeatureRow;
using FixtureImage = EfficientViT.ML.Tests.MLNet.SmallFeaturizer.ImageRow;
using EfficientViT.ML.Tests.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using TorchSharp;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>
/// <c>LoadWithBatchedScoring</c> gives exactly the features and scores of the plain <c>Model.Load</c> and of the
/// fitted pipeline, for zips saved by an earlier version and by this one, and leaves what it does not recognise alone.
/// </summary>
[Collection(TorchGlobalStateCollection.Name)]
public class LoadWithBatchedScoringTests
{
    private sealed class PixelRow
    {
        [VectorType(3, 64, 64)]
        public float[] Pixels { get; set; } = [];
    }

    private static EfficientVit SmallModel(int seed) => SmallFeaturizer.Model(seed);

    private static List<FixtureImage> Images(int count, int seed) => [.. SmallFeaturizer.Images(count, seed)];

    private static float[][] Features(ITransformer model, IDataView data, string column = "Features") =>
        model.Transform(data).GetColumn<float[]>(column).ToArray();

    private static float MaxAbsDifference(float[][] a, float[][] b)
    {
        Assert.Equal(a.Length, b.Length);
        return a.Zip(b, (x, y) => { Assert.Equal(x.Length, y.Length); return x.Zip(y, (p, q) => Math.Abs(p - q)).Max(); }).Max();
    }

    internal static List<ITransformer> Steps(ITransformer model) => model is TransformerChain<ITransformer> chain
        ? chain.SelectMany(Steps).ToList()
        : [model];

    [Fact]
    public void A_featurizer_zip_saved_by_an_earlier_version_scores_in_batches_with_the_features_of_the_plain_load()
    {
        var folder = TestFiles.Fixture("saved-zips");
        var rows = Directory.GetFiles(folder, "image*.rgba").Order(StringComparer.Ordinal).Select(path =>
        {
            var size = Path.GetFileNameWithoutExtension(path).Split('_')[1].Split('x').Select(int.Parse).ToArray();
            return new FixtureImage { Image = MLImage.CreateFromPixels(size[0], size[1], MLPixelFormat.Rgba32, File.ReadAllBytes(path)) };
        }).ToArray();
        var mlContext = new MLContext(seed: 0);
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var zip = Path.Combine(folder, "featurizer-image-64.zip");

        var plain = mlContext.Model.Load(zip, out _);
        using var fast = (IDisposable)mlContext.Model.LoadWithBatchedScoring(zip, new BatchedScoringOptions { BatchSize = 4 }, out _);

        // Resampled in managed code, as the fitted featurizer does: ImageNet's 64 / 0.875 -> 73, then the center 64.
        var step = Assert.Single(Steps((ITransformer)fast).OfType<BatchedOnnxStep>());
        // Saved before networks carried their contract: read by the legacy reader, which searches for the resize side.
        Assert.Equal("legacy", step.Source);
        Assert.Equal(73, Assert.IsType<ImageInput>(step.Input).Resampler.ResizeSize);
        var fastFeatures = Features((ITransformer)fast, data);
        Assert.Equal(0f, MaxAbsDifference(Features(plain, data), fastFeatures));
        Assert.Contains(fastFeatures.SelectMany(f => f), v => v != 0);
    }

    [Fact]
    public void A_featurizer_zip_saved_now_scores_in_batches_and_row_by_row_exactly_as_the_fitted_featurizer_and_the_plain_load()
    {
        using var dir = new TempDirectory();
        using var model = SmallModel(seed: 11);
        var mlContext = new MLContext(seed: 0);
        var images = Images(11, seed: 5);
        var data = mlContext.Data.LoadFromEnumerable(images);
        using var fitted = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { Model = model, BatchSize = 4 }).Fit(data);
        var zip = Path.Combine(dir.Path, "featurizer.zip");
        mlContext.Model.Save(fitted, null, zip);

        var fittedFeatures = Features(fitted, data);
        var plainFeatures = Features(mlContext.Model.Load(zip, out _), data);
        var fast = mlContext.Model.LoadWithBatchedScoring(zip, new BatchedScoringOptions { BatchSize = 3 }, out _);
        var fastFeatures = Features(fast, data);
        using var engine = mlContext.Model.CreatePredictionEngine<FixtureImage, FeatureRow>(fast);
        var predicted = images.Select(image => engine.Predict(image).Features.ToArray()).ToArray();
        using var fittedEngine = mlContext.Model.CreatePredictionEngine<FixtureImage, FeatureRow>(fitted);
        var fittedPredicted = images.Select(image => fittedEngine.Predict(image).Features.ToArray()).ToArray();

        var step = Assert.Single(Steps(fast).OfType<BatchedOnnxStep>());
        Assert.Equal("contract", step.Source);
        Assert.Equal(73, Assert.IsType<ImageInput>(step.Input).Resampler.ResizeSize);
        Assert.Equal(0f, MaxAbsDifference(fittedFeatures, plainFeatures));
        Assert.Equal(0f, MaxAbsDifference(fittedFeatures, fastFeatures));
        Assert.Equal(0f, MaxAbsDifference(fittedFeatures, predicted));
        Assert.Equal(0f, MaxAbsDifference(fittedFeatures, fittedPredicted));
        ((IDisposable)fast).Dispose();
    }

    [Fact]
    public void A_pixel_vector_featurizer_zip_scores_in_batches_with_the_features_of_the_plain_load()
    {
        using var dir = new TempDirectory();
        using var model = SmallModel(seed: 12);
        var mlContext = new MLContext(seed: 0);
        var random = new Random(9);
        var rows = Enumerable.Range(0, 7).Select(_ => new PixelRow { Pixels = Enumerable.Range(0, 3 * 64 * 64).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray() }).ToArray();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        using var fitted = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { Model = model, InputColumnName = "Pixels", BatchSize = 2 }).Fit(data);
        var zip = Path.Combine(dir.Path, "pixels.zip");
        mlContext.Model.Save(fitted, data.Schema, zip);

        using var fast = (IDisposable)mlContext.Model.LoadWithBatchedScoring(zip, out var schema);

        Assert.NotNull(schema);
        Assert.Single(Steps((ITransformer)fast).OfType<BatchedOnnxStep>());
        Assert.Equal(0f, MaxAbsDifference(Features(mlContext.Model.Load(zip, out _), data), Features((ITransformer)fast, data)));
        Assert.Equal(0f, MaxAbsDifference(Features(fitted, data), Features((ITransformer)fast, data)));
    }

    [Fact]
    public void A_classifier_zip_scores_in_batches_with_the_scores_and_labels_of_the_plain_load()
    {
        using var dir = new TempDirectory();
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 3, size: 48, seed: 41);
        var mlContext = new MLContext(seed: 0);
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var options = new EfficientVitClassifierOptions { Variant = EfficientVitVariant.M0, ImageSize = 64, Epochs = 1, BatchSize = 3, Seed = 1, Threads = 1 };
        var pipeline = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath))
            .Append(mlContext.Transforms.Conversion.MapValueToKey("Label"))
            .Append(mlContext.MulticlassClassification.Trainers.EfficientVit("Label", "Image", options))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var trained = pipeline.Fit(data);
        var zip = Path.Combine(dir.Path, "classifier.zip");
        mlContext.Model.Save(trained, data.Schema, zip);
        trained.Dispose();

        var serving = new MLContext();
        serving.ComponentCatalog.RegisterAssembly(typeof(PredictedIndexMapping).Assembly);
        var plain = serving.Model.Load(zip, out _);
        using var fast = (IDisposable)serving.Model.LoadWithBatchedScoring(zip, new BatchedScoringOptions { BatchSize = 4 }, out _);

        Assert.Single(Steps((ITransformer)fast).OfType<BatchedOnnxStep>());
        Assert.Equal(0f, MaxAbsDifference(Features(plain, data, "Score"), Features((ITransformer)fast, data, "Score")));
        Assert.Equal(plain.Transform(data).GetColumn<string>("PredictedLabel"), ((ITransformer)fast).Transform(data).GetColumn<string>("PredictedLabel"));
    }

    [Fact]
    public void Steps_it_does_not_recognise_stay_as_loaded_and_the_rest_of_the_chain_is_kept_in_order()
    {
        using var dir = new TempDirectory();
        using var model = SmallModel(seed: 13);
        var mlContext = new MLContext(seed: 0);
        var images = Images(4, seed: 6);
        var data = mlContext.Data.LoadFromEnumerable(images);
        // The same kind of graph applied by the user's own ML.NET steps, under column names this library does not write.
        var graph = Path.Combine(dir.Path, "user.onnx");
        EfficientVitOnnxExporter.Export(model, graph, new OnnxExportOptions { InputName = "UserPixels", FeaturesOutputName = "UserFeatures", Preprocessing = Preprocessing.ImagePreprocessing.ImageNet(64), ResizeInGraph = true, DropBatchAxis = true });
        var pipeline = mlContext.Transforms.CopyColumns("Copy", "Image")
            .Append(mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { Model = model }))
            .Append(mlContext.Transforms.ResizeImages("UserResized", 64, 64, "Image", ImageResizingEstimator.ResizingKind.IsoCrop))
            .Append(mlContext.Transforms.ExtractPixels("UserPixels", "UserResized"))
            .Append(mlContext.Transforms.ApplyOnnxModel(["UserFeatures"], ["UserPixels"], graph))
            .Append(mlContext.Transforms.Concatenate("Both", "Features", "UserFeatures"));
        var fitted = pipeline.Fit(data);
        var zip = Path.Combine(dir.Path, "mixed.zip");
        mlContext.Model.Save(fitted, null, zip);
        var onlyOthers = Path.Combine(dir.Path, "others.zip");
        mlContext.Model.Save(new TransformerChain<ITransformer>(fitted.Skip(2).ToArray()), null, onlyOthers);

        var plain = mlContext.Model.Load(zip, out _);
        using var fast = (IDisposable)mlContext.Model.LoadWithBatchedScoring(zip, out _);
        var others = mlContext.Model.LoadWithBatchedScoring(onlyOthers, out _);

        var plainSteps = Steps(plain);
        var fastSteps = Steps((ITransformer)fast);
        Assert.Equal(plainSteps.Count, fastSteps.Count);
        var differing = plainSteps.Zip(fastSteps).Where(pair => pair.First.GetType() != pair.Second.GetType()).ToList();
        Assert.Single(differing);
        Assert.IsType<BatchedOnnxStep>(differing[0].Second);
        Assert.Equal(Steps(mlContext.Model.Load(onlyOthers, out _)).Select(s => s.GetType()), Steps(others).Select(s => s.GetType()));
        Assert.Empty(Steps(others).OfType<BatchedOnnxStep>());
        Assert.Equal(0f, MaxAbsDifference(Features(plain, data, "Both"), Features((ITransformer)fast, data, "Both")));
    }

    [Fact]
    public void Saving_a_batch_loaded_model_writes_a_zip_that_loads_anywhere_and_scores_the_same()
    {
        using var dir = new TempDirectory();
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(Images(5, seed: 10));
        var original = Path.Combine(TestFiles.Fixture("saved-zips"), "featurizer-image-64.zip");
        var saved = Path.Combine(dir.Path, "saved-again.zip");
        using var fast = (IDisposable)mlContext.Model.LoadWithBatchedScoring(original, out _);

        mlContext.Model.Save((ITransformer)fast, null, saved);

        var plain = mlContext.Model.Load(saved, out _);
        Assert.Empty(Steps(plain).OfType<BatchedOnnxStep>());
        Assert.Equal(0f, MaxAbsDifference(Features(mlContext.Model.Load(original, out _), data), Features(plain, data)));
        using var again = (IDisposable)mlContext.Model.LoadWithBatchedScoring(saved, out _);
        Assert.Single(Steps((ITransformer)again).OfType<BatchedOnnxStep>());
    }

    [Fact]
    public void A_missing_or_corrupt_file_is_reported_with_its_name()
    {
        using var dir = new TempDirectory();
        var mlContext = new MLContext();
        var missing = Path.Combine(dir.Path, "absent.zip");
        var corrupt = Path.Combine(dir.Path, "corrupt.zip");
        File.WriteAllBytes(corrupt, [.. Enumerable.Range(0, 1000).Select(i => (byte)(i * 7))]);

        var notFound = Assert.Throws<FileNotFoundException>(() => mlContext.Model.LoadWithBatchedScoring(missing, out _));
        var invalid = Assert.Throws<InvalidDataException>(() => mlContext.Model.LoadWithBatchedScoring(corrupt, out _));

        Assert.Contains(missing, notFound.Message);
        Assert.Contains(corrupt, invalid.Message);
    }

    [Fact]
    public void After_dispose_scoring_fails_clearly_and_disposing_again_is_harmless()
    {
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(Images(2, seed: 7));
        var fast = mlContext.Model.LoadWithBatchedScoring(Path.Combine(TestFiles.Fixture("saved-zips"), "featurizer-image-64.zip"), out _);
        Assert.Equal(2, Features(fast, data).Length);

        ((IDisposable)fast).Dispose();
        ((IDisposable)fast).Dispose();

        Assert.Throws<ObjectDisposedException>(() => fast.Transform(data));
        Assert.Throws<ObjectDisposedException>(() => mlContext.Model.CreatePredictionEngine<FixtureImage, FeatureRow>(fast));
    }

    [Fact]
    public void Scoring_many_batches_keeps_memory_flat()
    {
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(Images(64, seed: 8));
        using var fast = (IDisposable)mlContext.Model.LoadWithBatchedScoring(Path.Combine(TestFiles.Fixture("saved-zips"), "featurizer-image-64.zip"),
            new BatchedScoringOptions { BatchSize = 4 }, out _);
        using var engine = mlContext.Model.CreatePredictionEngine<FixtureImage, FeatureRow>((ITransformer)fast);
        var image = Images(1, seed: 9)[0];
        void Pass()
        {
            Assert.Equal(64, Features((ITransformer)fast, data).Length);
            for (var i = 0; i < 64; i++)
                engine.Predict(image);
        }
        for (var i = 0; i < 3; i++)
            Pass();
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        process.Refresh();
        var before = process.WorkingSet64;
        for (var i = 0; i < 15; i++)
            Pass();
        process.Refresh();
        var grown = process.WorkingSet64 - before;
        // 15 passes are 240 batches and 960 single rows: a leak of even one input buffer (48 KB) per call would show.
        Assert.True(grown < 32L << 20, $"working set grew by {grown >> 20} MiB over 15 passes");
    }
}
