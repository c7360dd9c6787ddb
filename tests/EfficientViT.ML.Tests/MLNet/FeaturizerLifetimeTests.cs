using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Tests.Modeling;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>What a fitted featurizer refuses, and how it says so: after Dispose, and where ML.NET's own scoring cannot follow it.</summary>
public class FeaturizerLifetimeTests
{
    private const int Side = 64;

    private sealed class PixelRow
    {
        [VectorType(3, Side, Side)]
        public float[] Pixels { get; set; } = new float[3 * Side * Side];
    }

    private sealed class VariablePixelRow
    {
        public float[] Pixels { get; set; } = new float[3 * Side * Side];
    }

    private sealed class FeaturesRow
    {
        public float[] Features { get; set; } = [];
    }

    private static EfficientVitFeaturizerTransformer Fit(MLContext mlContext, EfficientVit model, IDataView data) =>
        mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { InputColumnName = "Pixels", Model = model, BatchSize = 2 }).Fit(data);

    private static Exception Innermost(Exception error) => error.InnerException is { } inner ? Innermost(inner) : error;

    [Fact]
    public void A_disposed_featurizer_says_it_was_disposed()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, Side, numClasses: 0);
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, 5).Select(_ => new PixelRow()).ToArray());
        var featurizer = Fit(mlContext, model, data);
        Assert.Equal(5, featurizer.Transform(data).GetColumn<float[]>("Features").Count());
        // A result taken before Dispose and read after it, and a Transform after it.
        var takenBefore = featurizer.Transform(data);
        featurizer.Dispose();

        // ML.NET's worker threads wrap the error of a cursor they read in their own.
        var readAfter = Assert.IsType<ObjectDisposedException>(Innermost(Assert.ThrowsAny<Exception>(() => takenBefore.GetColumn<float[]>("Features").ToList())));
        var transformAfter = Assert.Throws<ObjectDisposedException>(() => featurizer.Transform(data));
        var engineAfter = Assert.Throws<ObjectDisposedException>(() => mlContext.Model.CreatePredictionEngine<PixelRow, FeaturesRow>(featurizer));
        foreach (var error in new[] { readAfter, transformAfter, engineAfter })
        {
            Assert.Equal(nameof(EfficientVitFeaturizerTransformer), error.ObjectName);
            Assert.Contains("EfficientVitFeaturize: the featurizer was disposed", error.Message);
        }
        featurizer.Dispose();   // a second Dispose does nothing
    }

    // ML.NET's Model.Save to a path creates the file before any step is saved, so what it leaves there is ML.NET's;
    // the error is the featurizer's, and a save through a stream written atomically leaves nothing.
    [Fact]
    public void Saving_a_disposed_featurizer_or_model_loaded_for_serving_is_refused_naming_it()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, Side, numClasses: 0);
        using var dir = new TempDirectory();
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, 2).Select(_ => new PixelRow()).ToArray());
        var featurizer = Fit(mlContext, model, data);
        mlContext.Model.Save(featurizer, data.Schema, dir.File("saved.zip"));
        var loaded = mlContext.Model.LoadWithBatchedScoring(dir.File("saved.zip"), out _);
        featurizer.Dispose();
        ((IDisposable)loaded).Dispose();

        var featurizerError = Assert.Throws<ObjectDisposedException>(() => mlContext.Model.Save(featurizer, data.Schema, dir.File("featurizer.zip")));
        var loadedError = Assert.Throws<ObjectDisposedException>(() => mlContext.Model.Save(loaded, data.Schema, new MemoryStream()));
        var atomic = dir.File("atomic.zip");
        Assert.Throws<ObjectDisposedException>(() => EfficientViT.ML.IO.AtomicFile.Write(atomic, stream => mlContext.Model.Save(featurizer, data.Schema, stream)));

        Assert.Equal(nameof(EfficientVitFeaturizerTransformer), featurizerError.ObjectName);
        Assert.Contains("EfficientVitFeaturize: the featurizer was disposed and cannot be saved; save it before disposing it.", featurizerError.Message);
        Assert.Contains("EfficientViT scoring: the model was disposed and cannot be saved", loadedError.Message);
        Assert.Equal(["saved.zip", "featurizer.zip"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order().Reverse());
    }

    // ML.NET's ApplyOnnxModel reads its network from a file. Given a stream it would copy it to a temp file that
    // nothing deletes, so the featurizer writes the file itself and its Dispose deletes it; a model loaded for
    // serving holds ML.NET's own copies (in MLContext.TempFilePath), which go when their steps are disposed.
    [Fact]
    public void Disposing_a_featurizer_and_a_model_loaded_for_serving_deletes_the_network_files_their_steps_read()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, Side, numClasses: 0);
        using var temp = new TempDirectory();
        var fitTemp = Directory.CreateDirectory(temp.File("fit")).FullName;
        var loadTemp = Directory.CreateDirectory(temp.File("load")).FullName;
        var mlContext = new MLContext { TempFilePath = fitTemp };
        var data = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, 3).Select(_ => new PixelRow()).ToArray());
        var featurizer = Fit(mlContext, model, data);
        var files = featurizer.NetworkFiles.Select(f => f.Path).ToList();
        Assert.Single(files);
        Assert.True(File.Exists(files[0]));
        Assert.StartsWith("efficientvit-", Path.GetFileName(files[0]), StringComparison.Ordinal);
        Assert.Contains(files[0], NetworkFile.Undeleted.Remaining);
        mlContext.Model.Save(featurizer, data.Schema, temp.File("featurizer.zip"));
        featurizer.Dispose();
        Assert.False(File.Exists(files[0]), $"{files[0]} is still there after Dispose");
        Assert.DoesNotContain(files[0], NetworkFile.Undeleted.Remaining);
        Assert.Empty(Directory.GetFiles(fitTemp));

        var serving = new MLContext { TempFilePath = loadTemp };
        var loaded = serving.Model.LoadWithBatchedScoring(temp.File("featurizer.zip"), out _);
        Assert.Equal(3, loaded.Transform(data).GetColumn<float[]>("Features").Count());
        Assert.NotEmpty(Directory.GetFiles(loadTemp));
        ((IDisposable)loaded).Dispose();
        Assert.Empty(Directory.GetFiles(loadTemp));
    }

    // What the process does at its exit for a featurizer never disposed.
    [Fact]
    public void Network_files_not_deleted_by_their_owner_are_deleted_together()
    {
        var registry = new NetworkFileRegistry();
        var kept = NetworkFile.Write([1, 2, 3], registry);
        var deleted = NetworkFile.Write([4, 5], registry);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(kept.Path));
        deleted.Dispose();
        Assert.False(File.Exists(deleted.Path));
        Assert.Equal([kept.Path], registry.Remaining);

        registry.DeleteRemaining();
        Assert.False(File.Exists(kept.Path));
        Assert.Empty(registry.Remaining);
    }

    // ML.NET's ONNX scoring (a saved model, a PredictionEngine) cannot read a vector of variable size; the
    // batched Transform can. Saving and PredictionEngine refuse it with the fix, rather than failing every row later.
    [Fact]
    public void A_variable_size_pixel_column_is_refused_by_save_and_prediction_engine_with_the_fix()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, Side, numClasses: 0);
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(new[] { new VariablePixelRow(), new VariablePixelRow() });
        using var featurizer = Fit(mlContext, model, data);
        Assert.Equal(2, featurizer.Transform(data).GetColumn<float[]>("Features").Count());

        using var stream = new MemoryStream();
        var saveError = Assert.ThrowsAny<Exception>(() => mlContext.Model.Save(featurizer, data.Schema, stream));
        var engineError = Assert.ThrowsAny<Exception>(() => mlContext.Model.CreatePredictionEngine<VariablePixelRow, FeaturesRow>(featurizer));
        foreach (var error in new[] { saveError, engineError })
        {
            var messages = TestFiles.Messages(error);
            Assert.Contains(messages, m => m.Contains("input column 'Pixels' is a float vector of variable size", StringComparison.Ordinal)
                && m.Contains($"[VectorType(3, {Side}, {Side})]", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void A_fixed_size_pixel_column_saves_and_loads()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, Side, numClasses: 0);
        RandomWeights.Apply(model);
        var mlContext = new MLContext();
        var random = new Random(5);
        var rows = Enumerable.Range(0, 3).Select(_ => new PixelRow { Pixels = Enumerable.Range(0, 3 * Side * Side).Select(_ => (float)random.NextDouble()).ToArray() }).ToArray();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        using var featurizer = Fit(mlContext, model, data);
        var inMemory = featurizer.Transform(data).GetColumn<float[]>("Features").ToList();

        using var stream = new MemoryStream();
        mlContext.Model.Save(featurizer, data.Schema, stream);
        stream.Position = 0;
        var loaded = new MLContext().Model.Load(stream, out _);
        var engine = mlContext.Model.CreatePredictionEngine<PixelRow, FeaturesRow>(loaded);

        for (var i = 0; i < rows.Length; i++)
            Assert.True(inMemory[i].Zip(engine.Predict(rows[i]).Features, (a, b) => Math.Abs(a - b)).Max() <= 1e-5f, $"row {i}");
    }
}
