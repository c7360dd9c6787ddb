using System.CommandLine;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Preprocessing;
using EfficientViT.ML.Training;

namespace EfficientViT.Training.Commands;

/// <summary><c>efficientvit eval</c>: top-1, top-5, per-class accuracy and the confusion matrix of a checkpoint.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = WeightsArguments.Option(WeightsArguments.Help + " Also model.safetensors of a run. With --onnx, optional: evaluated too, and its preprocessing used for the graphs.");
        var onnx = new Option<FileInfo[]>("--onnx") { Description = "An exported ONNX classifier (float32 or int8, with its logits output) to evaluate in ONNX Runtime; repeat to compare graphs side by side.", AllowMultipleArgumentsPerToken = false };
        var data = new Option<string>("--data") { Description = DataArguments.Help + " Fashion-MNIST: its test set.", DefaultValueFactory = _ => DataArguments.FashionMnist };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 256 };
        var skipCorrupt = new Option<bool>("--skip-corrupt") { Description = "Skip unreadable images instead of failing." };
        var imageSize = new Option<int?>("--image-size") { Description = "Evaluate at this input size, a multiple of 16 (attention bias tables resampled when their window changes); default: the checkpoint's." };
        var biasResampling = OptionChecks.BiasResamplingOption();
        var interpolation = OptionChecks.InterpolationOption();
        var flip = new Option<bool>("--flip") { Description = "Also score each image mirrored left to right and average the two predictions (test-time augmentation; twice the time)." };
        var command = new Command("eval", "Evaluate a checkpoint: top-1, top-5, per-class accuracy, confusion matrix.") { checkpoint, onnx, data, batch, imageSize, biasResampling, interpolation, skipCorrupt, flip };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var batchSize = OptionChecks.AtLeast(parse, batch, 1);
            var size = OptionChecks.ImageSize(parse, imageSize);
            var dataValue = parse.GetValue(data)!;
            var graphs = parse.GetValue(onnx) ?? [];
            if (graphs.Length > 0)
            {
                EvaluateGraphs(graphs, parse.GetValue(checkpoint) is { } weights ? WeightsArguments.Resolve(weights) : null, dataValue, batchSize, parse.GetValue(skipCorrupt), size, parse.GetValue(biasResampling), parse.GetValue(interpolation), parse.GetValue(flip));
                return;
            }
            var checkpointFile = WeightsArguments.Resolve(parse.GetValue(checkpoint) ?? throw new ArgumentException("eval needs --weights (a checkpoint or a pretrained name) or --onnx."));
            var dataset = DataArguments.Load(dataValue, FashionMnistSplit.Test, parse.GetValue(skipCorrupt));
            using var loaded = EfficientVitCheckpoint.Load(checkpointFile,
                new CheckpointLoadOptions { ImageSize = size, BiasResampling = parse.GetValue(biasResampling) });
            OptionChecks.WarnIfResizedWeightsUntrained(checkpointFile, loaded);
            // The checkpoint's preprocessing is the contract its weights were trained under.
            var transform = new ImageTransform(WithInterpolation(loaded.Metadata.Preprocessing, parse.GetValue(interpolation)), train: false);
            var (metrics, loss) = Evaluator.Evaluate(loaded.Model, dataset, transform, batchSize, flipAverage: parse.GetValue(flip));
            Console.WriteLine($"{metrics.Count:N0} images: top-1 {metrics.Top1Accuracy:P2}" + (metrics.Top5Accuracy is { } top5 ? $", top-5 {top5:P2}" : "") + $", loss {loss:F4}");
            Console.WriteLine(metrics.ToTable(loaded.Metadata.ClassNames ?? dataset.ClassNames.ToArray()));
        }));
        return command;
    }

    // Top-1/top-5 of each graph (and of the checkpoint when given) on the same images, one row each.
    private static void EvaluateGraphs(FileInfo[] graphs, string? checkpoint, string dataValue, int batchSize, bool skipCorrupt,
        int? imageSize, AttentionBiasResampling biasResampling, ImageInterpolation? interpolation, bool flip)
    {
        if (flip)
            throw new ArgumentException("--flip is not available with --onnx.");
        if (imageSize is not null)
            throw new ArgumentException("--image-size is not available with --onnx: a graph runs at the size it was exported at.");
        var dataset = DataArguments.Load(dataValue, FashionMnistSplit.Test, skipCorrupt);
        var evaluations = graphs.Select(graph => new OnnxClassifierEvaluation(graph.FullName)).ToList();
        try
        {
            var rows = new List<(string Name, ClassificationMetrics Metrics)>();
            ImagePreprocessing preprocessing;
            if (checkpoint is not null)
            {
                using var loaded = EfficientVitCheckpoint.Load(checkpoint, new CheckpointLoadOptions { BiasResampling = biasResampling });
                preprocessing = WithInterpolation(loaded.Metadata.Preprocessing, interpolation);
                var (metrics, _) = Evaluator.Evaluate(loaded.Model, dataset, new ImageTransform(preprocessing, train: false), batchSize);
                rows.Add(($"{Path.GetFileName(checkpoint)} (TorchSharp)", metrics));
            }
            else
            {
                // Without a checkpoint the graph's side is known from its metadata; mean, std and crop are
                // those of the data: Fashion-MNIST's own, else ImageNet's.
                var side = evaluations[0].ImageSize;
                preprocessing = WithInterpolation(DataArguments.IsFashionMnist(dataValue) ? ImagePreprocessing.FashionMnist(side) : ImagePreprocessing.ImageNet(side), interpolation);
            }
            foreach (var (graph, evaluation) in graphs.Zip(evaluations))
                rows.Add(($"{graph.Name} ({evaluation.Quantization})", evaluation.Evaluate(dataset, preprocessing, batchSize)));

            Console.WriteLine($"{dataset.Count:N0} images of {dataValue}");
            var width = Math.Max(5, rows.Max(r => r.Name.Length));
            Console.WriteLine($"{"model".PadRight(width)}  top-1     top-5");
            foreach (var (name, metrics) in rows)
                Console.WriteLine($"{name.PadRight(width)}  {metrics.Top1Accuracy,7:P2}  {(metrics.Top5Accuracy is { } top5 ? top5.ToString("P2") : "-"),7}");
            var first = rows[0].Metrics;
            foreach (var (name, metrics) in rows.Skip(1))
                Console.WriteLine($"{name}: top-1 {100 * (metrics.Top1Accuracy - first.Top1Accuracy):+0.00;-0.00;0.00} points against {rows[0].Name}");
        }
        finally
        {
            foreach (var evaluation in evaluations)
                evaluation.Dispose();
        }
    }

    private static ImagePreprocessing WithInterpolation(ImagePreprocessing preprocessing, ImageInterpolation? interpolation) =>
        interpolation is { } chosen ? preprocessing with { Interpolation = chosen } : preprocessing;
}
