using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Tests.Training;
using EfficientViT.ML.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.MLNet;

[Collection(TorchGlobalStateCollection.Name)]
public class ClassifierTrainerTests
{
    private static EfficientVitClassifierOptions Options(List<TrainingProgress>? reports = null) => new()
    {
        Variant = EfficientVitVariant.M0,
        ImageSize = 64,
        Epochs = 8,
        BatchSize = 8,
        LearningRate = 3e-3,
        Seed = 1,
        Threads = 2,
        Progress = reports is null ? null : new ListProgress(reports),
    };

    // Labels as keys and images loaded: what the trainer reads.
    private static TransformerChain<ImageLoadingTransformer> LabelledImages(MLContext mlContext, IDataView paths) =>
        mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath)))
            .Fit(paths);

    [Fact]
    public void Fit_evaluate_save_and_load_in_a_fresh_process_give_the_same_predictions()
    {
        using var dir = new TempDirectory();
        // Enough steps (48) for BatchNorm's running statistics to settle; with a handful of steps the
        // eval-mode network lags behind the training one.
        var train = TestImages.WriteColorImages(dir.Path, perClass: 16, size: 40, seed: 31);
        var test = TestImages.WriteColorImages(dir.Path, perClass: 4, size: 48, seed: 32);
        var mlContext = new MLContext(seed: 0);
        var trainData = mlContext.Data.LoadFromEnumerable(train);
        var testData = mlContext.Data.LoadFromEnumerable(test);
        var reports = new List<TrainingProgress>();

        var pipeline = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath))
            .Append(mlContext.Transforms.Conversion.MapValueToKey("Label"))
            .Append(mlContext.MulticlassClassification.Trainers.EfficientVit("Label", "Image", Options(reports)))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var model = pipeline.Fit(trainData);

        Assert.Contains(reports, r => r.EpochEnd is not null);
        var scored = model.Transform(testData);
        var metrics = mlContext.MulticlassClassification.Evaluate(scored);
        var losses = string.Join(", ", reports.Where(r => r.EpochEnd is not null).Select(r => r.EpochEnd!.TrainLoss.ToString("F3")));
        var predictedCounts = string.Join(", ", scored.GetColumn<string>("PredictedLabel").GroupBy(l => l).Select(g => $"{g.Key}:{g.Count()}"));
        var firstScores = string.Join(" / ", scored.GetColumn<float[]>("Score").Take(6).Select(s => string.Join(",", s.Select(v => v.ToString("F2")))));
        Assert.True(metrics.MicroAccuracy >= 0.8, $"micro accuracy {metrics.MicroAccuracy}; epoch losses {losses}; predictions {predictedCounts}; scores {firstScores}");

        var labels = scored.GetColumn<string>("PredictedLabel").ToList();
        var scores = scored.GetColumn<float[]>("Score").ToList();
        Assert.All(scores, s => Assert.Equal(1f, s.Sum(), 3));
        Assert.All(labels, l => Assert.Contains(l, TestImages.ColorClasses));

        // In memory the network scores in batches (Transform) and alone through bound buffers (PredictionEngine);
        // both must give exactly what the saved chain of ML.NET steps, one ONNX Runtime call per image, gives.
        var classifier = model.OfType<EfficientVitClassifierTransformer>().Single();
        Assert.True(classifier.ScoresInBatches);
        var classifierInput = new TransformerChain<ITransformer>([.. model.TakeWhile(step => step is not EfficientVitClassifierTransformer)]).Transform(testData);
        var rowByRow = classifier.AsMLNetChain().Transform(classifierInput).GetColumn<float[]>("Score").ToList();
        Assert.Equal(rowByRow, classifier.Transform(classifierInput).GetColumn<float[]>("Score").ToList());
        Assert.Equal(rowByRow, scores);
        var engine = mlContext.Model.CreatePredictionEngine<ImageRow, ScoreRow>(model);
        Assert.Equal(rowByRow, test.Select(row => engine.Predict(row).Score).ToList());

        var path = Path.Combine(dir.Path, "classifier.zip");
        mlContext.Model.Save(model, trainData.Schema, path);
        // The predicted-index step is a CustomMapping: the loading process registers this library, by path only.
        var fresh = TestImages.RunInFreshProcess(path, test.Select(r => r.ImagePath), dir.Path, featureColumn: "Score",
            registerAssembly: typeof(PredictedIndexMapping).Assembly.Location);
        Assert.Equal(labels, fresh.Select(f => f.Label));
        var maxDiff = scores.Zip(fresh, (a, b) => a.Zip(b.Features, (x, y) => Math.Abs(x - y)).Max()).Max();
        Assert.True(maxDiff <= 1e-6, $"scores differ by {maxDiff} in the fresh process");

        var networkFile = Assert.Single(classifier.NetworkFiles).Path;
        Assert.True(File.Exists(networkFile));
        classifier.Dispose();
        Assert.Throws<ObjectDisposedException>(() => classifier.Transform(classifierInput));
        Assert.False(File.Exists(networkFile), $"the network file its ML.NET step read, {networkFile}, is still there after Dispose");
    }

    [Fact]
    public void An_int8_classifier_predicts_like_the_float_one_trained_with_the_same_seed()
    {
        using var dir = new TempDirectory();
        var train = TestImages.WriteColorImages(dir.Path, perClass: 16, size: 40, seed: 31);
        var test = TestImages.WriteColorImages(dir.Path, perClass: 4, size: 48, seed: 32);
        var mlContext = new MLContext(seed: 0);
        var load = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath));
        var trainData = mlContext.Data.LoadFromEnumerable(train);
        var testData = mlContext.Data.LoadFromEnumerable(test);
        var calibration = load.Fit(trainData).Transform(trainData);

        List<float[]> Scores(EfficientVitQuantization quantization)
        {
            var options = Options();
            options.Quantization = quantization;
            options.CalibrationData = quantization == EfficientVitQuantization.Int8 ? calibration : null;
            var model = load.Append(mlContext.Transforms.Conversion.MapValueToKey("Label"))
                .Append(mlContext.MulticlassClassification.Trainers.EfficientVit("Label", "Image", options))
                .Fit(trainData);
            return model.Transform(testData).GetColumn<float[]>("Score").ToList();
        }

        var floatScores = Scores(EfficientVitQuantization.None);
        var int8Scores = Scores(EfficientVitQuantization.Int8);
        static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());
        var agreement = floatScores.Zip(int8Scores, (a, b) => ArgMax(a) == ArgMax(b)).Count(same => same) / (double)floatScores.Count;
        var maxDiff = floatScores.Zip(int8Scores, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max();
        Console.WriteLine($"int8 against float32: {agreement:P0} of the predictions agree; probabilities differ by at most {maxDiff}");
        Assert.True(maxDiff > 1e-6, "the int8 classifier scored exactly like the float one: it did not run in int8");
        Assert.True(agreement >= 0.9, $"only {agreement:P0} of the int8 predictions agree with the float ones");
    }

    [Fact]
    public void Int8_without_calibration_data_or_with_calibration_data_lacking_the_image_column_is_refused_before_training()
    {
        using var dir = new TempDirectory();
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 1, size: 16, seed: 34);
        var mlContext = new MLContext();
        var paths = mlContext.Data.LoadFromEnumerable(rows);
        var data = LabelledImages(mlContext, paths).Transform(paths);
        var options = Options();
        options.Quantization = EfficientVitQuantization.Int8;

        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => mlContext.MulticlassClassification.Trainers.EfficientVit("Label", "Image", options));
        Assert.Contains("needs CalibrationData", missing.Message);

        options.CalibrationData = paths;
        var reports = new List<TrainingProgress>();
        options.Progress = new ListProgress(reports);
        var withoutColumn = Assert.Throws<ArgumentOutOfRangeException>(() => mlContext.MulticlassClassification.Trainers.EfficientVit("Label", "Image", options).Fit(data));
        Assert.Contains("CalibrationData has no column 'Image'", withoutColumn.Message);
        Assert.Empty(reports);
    }

    [Fact]
    public void A_label_that_is_not_a_key_is_refused_by_name()
    {
        using var dir = new TempDirectory();
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 1, size: 16, seed: 33);
        var mlContext = new MLContext();
        var data = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath)).Fit(mlContext.Data.LoadFromEnumerable(rows))
            .Transform(mlContext.Data.LoadFromEnumerable(rows));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => mlContext.MulticlassClassification.Trainers.EfficientVit("Label", "Image", Options()).Fit(data));
        Assert.Contains("'Label'", error.Message);
        Assert.Contains("MapValueToKey", error.Message);
    }

    [Fact]
    public void Images_over_the_pixel_limit_are_refused_by_column_and_size_in_fit_and_in_scoring()
    {
        using var dir = new TempDirectory();
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 2, size: 32, seed: 36);
        var larger = TestImages.WriteColorImages(dir.Path, perClass: 1, size: 33, seed: 37);
        var mlContext = new MLContext(seed: 0);
        var prepare = LabelledImages(mlContext, mlContext.Data.LoadFromEnumerable(rows));
        var data = prepare.Transform(mlContext.Data.LoadFromEnumerable(rows));
        var options = Options();
        (options.Epochs, options.MaxImagePixels) = (1, 32 * 32 - 1);

        var inFit = Assert.Throws<InvalidDataException>(() => mlContext.MulticlassClassification.Trainers.EfficientVit("Label", "Image", options).Fit(data));
        Assert.StartsWith("EfficientVit trainer: column 'Image' holds a 32x32 image (1,024 pixels), more than the 1,023 accepted;", inFit.Message);
        Assert.EndsWith("(row 0)", inFit.Message);

        options.MaxImagePixels = 32 * 32;
        using var model = mlContext.MulticlassClassification.Trainers.EfficientVit("Label", "Image", options).Fit(data);
        var largerData = prepare.Transform(mlContext.Data.LoadFromEnumerable(larger));
        var inTransform = Assert.ThrowsAny<Exception>(() => model.Transform(largerData).GetColumn<float[]>("Score").ToList());
        const string Refusal = "EfficientVit classifier: column 'Image' holds a 33x33 image (1,089 pixels), more than the 1,024 accepted;";
        Assert.Contains(TestFiles.Messages(inTransform), m => m.StartsWith(Refusal, StringComparison.Ordinal));
        var engine = mlContext.Model.CreatePredictionEngine<ImageRow, ScoreRow>(prepare.Append(model));
        var inEngine = Assert.ThrowsAny<Exception>(() => engine.Predict(larger[0]));
        Assert.Contains(TestFiles.Messages(inEngine), m => m.StartsWith(Refusal, StringComparison.Ordinal));
        Assert.Equal(TestImages.ColorClasses.Length, engine.Predict(rows[0]).Score.Length);
    }

    [Fact]
    public void The_same_seed_gives_the_same_model_and_another_seed_another()
    {
        using var dir = new TempDirectory();
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 4, size: 32, seed: 35);
        var mlContext = new MLContext(seed: 0);
        var data = LabelledImages(mlContext, mlContext.Data.LoadFromEnumerable(rows)).Transform(mlContext.Data.LoadFromEnumerable(rows));

        float[] Scores(int seed)
        {
            var options = Options();
            (options.Epochs, options.Seed) = (1, seed);
            using var model = mlContext.MulticlassClassification.Trainers.EfficientVit("Label", "Image", options).Fit(data);
            return model.Transform(data).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
        }

        var first = Scores(7);
        Assert.Equal(first, Scores(7));
        Assert.NotEqual(first, Scores(8));
    }

    [Theory]
    [InlineData(0.0, 0.0, "MinCropScale")]
    [InlineData(1.5, 0.0, "MinCropScale")]
    [InlineData(0.5, -0.1, "RandomErasing")]
    public void Augmentation_options_out_of_range_are_refused_by_name(double minCropScale, double randomErasing, string named)
    {
        var options = Options();
        options.MinCropScale = minCropScale;
        options.RandomErasing = randomErasing;

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().MulticlassClassification.Trainers.EfficientVit("Label", "Image", options));

        Assert.Contains($"{named} must be", error.Message);
    }

    [Fact]
    public void Progress_reaches_the_ml_context_s_log_and_the_user_s_progress()
    {
        using var dir = new TempDirectory();
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 4, size: 16, seed: 35);
        var mlContext = new MLContext();
        var messages = new List<LoggingEventArgs>();
        mlContext.Log += (_, e) =>
        {
            lock (messages)
                messages.Add(e);
        };
        var reports = new List<TrainingProgress>();
        var options = Options(reports);
        options.Epochs = 2;
        var pipeline = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath))
            .Append(mlContext.Transforms.Conversion.MapValueToKey("Label"))
            .Append(mlContext.MulticlassClassification.Trainers.EfficientVit("Label", "Image", options));
        pipeline.Fit(mlContext.Data.LoadFromEnumerable(rows));

        var ours = messages.Where(m => m.Source.Contains(nameof(EfficientVitClassifierTrainer), StringComparison.Ordinal)).ToList();
        var epochs = ours.Where(m => m.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info && m.RawMessage.StartsWith("epoch ", StringComparison.Ordinal))
            .Select(m => m.RawMessage).ToList();
        Assert.True(epochs.Count == 2, $"{messages.Count} messages; ours: {string.Join(" / ", ours.Select(m => m.Message))}");
        Assert.StartsWith("epoch 1/2: train loss ", epochs[0]);
        Assert.StartsWith("epoch 2/2: train loss ", epochs[1]);
        var steps = ours.Count(m => m.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Trace && m.RawMessage.Contains(", step ", StringComparison.Ordinal));
        Assert.Equal(reports.Count(r => r.EpochEnd is null), steps);
        Assert.Equal(2, reports.Count(r => r.EpochEnd is not null));
    }

    [Fact]
    public void Cancellation_stops_fit()
    {
        using var dir = new TempDirectory();
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 4, size: 16, seed: 34);
        var mlContext = new MLContext();
        using var cancel = new CancellationTokenSource();
        var options = Options();
        options.CancellationToken = cancel.Token;
        options.Progress = new ListProgress([], _ => cancel.Cancel());
        var pipeline = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath))
            .Append(mlContext.Transforms.Conversion.MapValueToKey("Label"))
            .Append(mlContext.MulticlassClassification.Trainers.EfficientVit("Label", "Image", options));
        Assert.Throws<OperationCanceledException>(() => pipeline.Fit(mlContext.Data.LoadFromEnumerable(rows)));
    }

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = [];
    }

    private sealed class ListProgress(List<TrainingProgress> reports, Action<TrainingProgress>? also = null) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            reports.Add(value);
            also?.Invoke(value);
        }
    }
}
