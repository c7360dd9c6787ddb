using System.CommandLine;
using System.Diagnostics;
using EfficientViT.ML;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.IO;
using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using EfficientViT.Reporting;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace EfficientViT.Training.Commands;

/// <summary>
/// <c>efficientvit demo</c>: trains EfficientViT-M0 on Fashion-MNIST's 60,000 training images, reports
/// its accuracy on the 10,000 test images, then puts the trained backbone into an ML.NET pipeline
/// (<c>EfficientVitFeaturize</c> → <c>LbfgsMaximumEntropy</c>), evaluates it with ML.NET's evaluator, and
/// saves the model zip.
/// </summary>
internal static class DemoCommand
{
    /// <summary>
    /// The demo's time without --long: data loading, training, evaluation and the ML.NET pipeline, so that
    /// scripts/demo.sh, with its set-up check, build and process start (1.5 minutes on a shared 2-core machine after a
    /// change to the library), ends within 10 minutes.
    /// </summary>
    public static readonly TimeSpan DefaultTimeBudget = TimeSpan.FromMinutes(7.5);

    /// <summary>
    /// What follows training, in validation passes (the test set, 10,000 images, at the trained side): the test
    /// evaluation (one), with flip averaging (two), and the ML.NET pipeline, which featurizes 10,000 training and
    /// 10,000 test images, fits its trainer and saves its zip. Measured in three runs on a shared 2-core Intel Xeon:
    /// the evaluations took 2.5–3.1 passes, the ML.NET pipeline 1.6–4.3 (it runs on ONNX Runtime, whose pace
    /// follows the machine's load less closely than libtorch's); the larger, and a little more, are held.
    /// </summary>
    private const double ValidationPassesAfterTraining = 3 + MLNetValidationPasses;

    private const double MLNetValidationPasses = 4.5;

    public static Command Create()
    {
        var epochs = new Option<int?>("--epochs") { Description = "Training epochs, at most (default 10; the time budget may buy fewer; --long: 12)." };
        var timeBudget = OptionChecks.TimeBudgetOption($"The time the whole demo may take: data loading, training, evaluation and the ML.NET pipeline (8m, 90s, 1h30m or seconds; default {TimeBudgetFormat.Format(DefaultTimeBudget.TotalSeconds)}, none with --long). Training gets what the rest leaves.");
        var imageSize = new Option<int?>("--image-size") { Description = "Input side, a multiple of 16 (default 64; --long: 112, a 7x7 token grid)." };
        var longRun = new Option<bool>("--long") { Description = "Train longer for the best accuracy: 12 epochs at 112x112, 24-60 minutes in all on 2 cores, depending on the machine, unless --time-budget is given." };
        var startImageSize = OptionChecks.StartImageSizeOption();
        var fullSizeEpochs = OptionChecks.FullSizeEpochsOption();
        var output = new Option<string>("--output", "-o") { Description = "Folder for checkpoints, metrics, curves and the model zip.", DefaultValueFactory = _ => Path.Combine("runs", "demo") };
        var resume = new Option<bool>("--resume") { Description = "Continue an interrupted demo run." };
        var mlnetImages = new Option<int>("--mlnet-images") { Description = "Training images for the ML.NET head (features of the trained backbone).", DefaultValueFactory = _ => 10_000 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 0 };
        var command = new Command("demo", "Train EfficientViT-M0 on Fashion-MNIST, evaluate, and build, evaluate and save an ML.NET pipeline with it.")
            { epochs, timeBudget, imageSize, longRun, startImageSize, fullSizeEpochs, output, resume, mlnetImages, seed };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var epochCount = OptionChecks.AtLeast(parse, epochs, 1) ?? (parse.GetValue(longRun) ? 12 : 10);
            var side = OptionChecks.ImageSize(parse, imageSize) ?? (parse.GetValue(longRun) ? 112 : 64);
            var (startSize, fullEpochs) = OptionChecks.ImageSizeSchedule(parse, startImageSize, fullSizeEpochs, epochCount);
            var explicitBudget = OptionChecks.TimeBudget(parse, timeBudget, startImageSize);
            var demoBudget = explicitBudget ?? (parse.GetValue(longRun) || startSize is not null ? null : DefaultTimeBudget);
            var imagesForMLNet = OptionChecks.AtLeast(parse, mlnetImages, 1);
            var run = new TrainingRunFolder(parse.GetValue(output)!);
            if (parse.GetValue(resume))
                run.RequireCheckpoint();
            var folder = run.Path;
            var clock = Stopwatch.StartNew();
            // Times depend on the machine (the same code ran 2.5x slower on one machine of a kind than on another).
            Console.WriteLine($"machine: {MachineDescription.Summary()}");

            var train = FashionMnistDataset.Load(FashionMnistSplit.Train);
            var test = FashionMnistDataset.Load(FashionMnistSplit.Test);
            using var setup = TrainingSetup.Prepare(TrainingSetupOptions.ForFashionMnist(side) with
            {
                Epochs = epochCount,
                BatchSize = 128,
                StartImageSize = startSize,
                FullSizeEpochs = fullEpochs,
                Seed = parse.GetValue(seed),
                ResumedRun = parse.GetValue(resume) ? folder : null,
                Notes = new Dictionary<string, string> { ["data"] = "fashion-mnist", ["command"] = "demo" },
            }, train);
            var (model, metadata, evalTransform) = (setup.Model, setup.Metadata, setup.EvalTransform);
            var dataTime = clock.Elapsed;
            var options = new TrainerOptions
            {
                OutputDirectory = folder,
                Resume = parse.GetValue(resume),
                CurvesChart = SvgCharts.TrainingCurves,
                // Training gets what is left of the demo's time once the data is loaded; the budget also holds what follows it.
                TimeBudget = demoBudget is { } total ? Max(total - dataTime, TimeSpan.FromSeconds(1)) : null,
                ValidationPassesAfterTraining = ValidationPassesAfterTraining,
            };
            var result = TrainingRun.Run(setup, options, train, test);
            if (!result.Completed)
                throw new InvalidOperationException(result.StopReason ?? "training stopped");
            var trainingTime = clock.Elapsed;
            var evaluationClock = Stopwatch.StartNew();
            // The thread count training last found faster: all cores collapse when another process holds one.
            if (result.ThreadsChosen is { } threads)
                TorchSharp.torch.set_num_threads(threads);

            var (metrics, _) = Evaluator.Evaluate(model, test, evalTransform, 256);
            Console.WriteLine($"test set: top-1 {metrics.Top1Accuracy:P2}, top-5 {metrics.Top5Accuracy:P2}");
            Console.WriteLine(metrics.ToTable(train.ClassNames));
            var (flipped, _) = Evaluator.Evaluate(model, test, evalTransform, 256, flipAverage: true);
            Console.WriteLine($"test set, each image also scored mirrored (flip averaging): top-1 {flipped.Top1Accuracy:P2}");

            var evaluationTime = evaluationClock.Elapsed;
            var mlnetClock = Stopwatch.StartNew();
            var (mlnet, zip, featurizeRate) = MLNetPipeline(model, metadata, train, test, imagesForMLNet, parse.GetValue(seed), folder);
            var mlnetTime = mlnetClock.Elapsed;
            var validationSeconds = result.TimeBudget?.SecondsPerValidation;
            Console.WriteLine();
            Console.WriteLine("| result | value |");
            Console.WriteLine("|---|---|");
            var epochsDone = result.TimeBudget is { } plan ? $"{plan.PlannedEpochs:F1} epochs ({plan.PlannedImages:N0} images, bought by a {TimeBudgetFormat.Format(demoBudget!.Value.TotalSeconds)} demo budget)" : $"{result.Epochs.Count} epochs";
            Console.WriteLine($"| EfficientViT-M0 ({side}x{side}), {epochsDone}, test top-1 | {metrics.Top1Accuracy:P2} |");
            Console.WriteLine($"| the same, with flip averaging at test time | {flipped.Top1Accuracy:P2} |");
            Console.WriteLine($"| training time (data loading and validation included) | {trainingTime:hh\\:mm\\:ss} |");
            Console.WriteLine($"| training throughput, last epoch | {result.Epochs[^1].ImagesPerSecond:F0} img/s |");
            Console.WriteLine($"| machine | {MachineDescription.Summary()} |");
            Console.WriteLine($"| ML.NET EfficientVitFeaturize -> LbfgsMaximumEntropy, test micro-accuracy | {mlnet.MicroAccuracy:P2} |");
            Console.WriteLine($"| ML.NET test macro-accuracy / log-loss | {mlnet.MacroAccuracy:P2} / {mlnet.LogLoss:F4} |");
            Console.WriteLine($"| ML.NET featurization | {featurizeRate:F0} img/s |");
            Console.WriteLine($"| saved ML.NET model | {zip} ({new FileInfo(zip).Length / 1024.0 / 1024.0:F1} MiB) |");
            Console.WriteLine($"| phases: data loading / training / test evaluation / ML.NET | {dataTime.TotalSeconds:F0} s / {(trainingTime - dataTime).TotalSeconds:F0} s / {evaluationTime.TotalSeconds:F0} s / {mlnetTime.TotalSeconds:F0} s |");
            if (validationSeconds is { } pass)
                Console.WriteLine($"| validation pass (10,000 test images) / evaluation and ML.NET in passes | {pass:F1} s / {evaluationTime.TotalSeconds / pass:F1} and {mlnetTime.TotalSeconds / pass:F1} |");
            Console.WriteLine($"| total time | {clock.Elapsed:hh\\:mm\\:ss}{(demoBudget is { } limit ? $" (budget {TimeBudgetFormat.Format(limit.TotalSeconds)})" : "")} |");
        }));
        return command;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private sealed class ImageRow
    {
        [ImageType(28, 28)]
        public MLImage? Image { get; set; }

        public string Label { get; set; } = "";
    }

    private static IEnumerable<ImageRow> Rows(IImageDataset data, IReadOnlyList<int> indices)
    {
        foreach (var index in indices)
        {
            var sample = data.Get(index);
            yield return new ImageRow { Image = sample.ToMLImage(), Label = data.ClassNames[sample.Label] };
        }
    }

    private static (MulticlassClassificationMetrics Metrics, string Zip, double FeaturizeRate) MLNetPipeline(
        EfficientVit model, CheckpointMetadata metadata, IImageDataset train, IImageDataset test, int trainImages, int seed, string folder)
    {
        var mlContext = new MLContext(seed);
        var trainIndices = DatasetSplit.Take(train, Math.Max(1, trainImages / train.ClassNames.Count), seed) is SubsetDataset subset ? subset.Indices : Enumerable.Range(0, train.Count).ToArray();
        var trainData = mlContext.Data.LoadFromEnumerable(Rows(train, trainIndices));
        var testData = mlContext.Data.LoadFromEnumerable(Rows(test, Enumerable.Range(0, test.Count).ToArray()));

        Console.WriteLine($"ML.NET: featurizing {trainIndices.Count:N0} training images with the trained backbone, fitting LbfgsMaximumEntropy...");
        var pipeline = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions
            {
                InputColumnName = "Image",
                OutputColumnName = "Features",
                Model = model,
                Preprocessing = metadata.Preprocessing,
            })
            .Append(mlContext.Transforms.DropColumns("Image"))
            .AppendCacheCheckpoint(mlContext)
            .Append(mlContext.Transforms.Conversion.MapValueToKey("Label"))
            .Append(mlContext.MulticlassClassification.Trainers.LbfgsMaximumEntropy())
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        using var fitted = pipeline.Fit(trainData);

        var clock = Stopwatch.StartNew();
        var scored = fitted.Transform(testData);
        var metrics = mlContext.MulticlassClassification.Evaluate(scored);
        var rate = test.Count / clock.Elapsed.TotalSeconds;

        var zip = Path.Combine(folder, "fashion-mnist-efficientvit-m0.zip");
        // An in-memory image column cannot be recorded as the input schema; the model holds everything else.
        AtomicFile.Write(zip, stream => mlContext.Model.Save(fitted, null, stream));
        return (metrics, zip, rate);
    }
}
