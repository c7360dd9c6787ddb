using System.CommandLine;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.Training;

namespace EfficientViT.Training.Commands;

/// <summary><c>efficientvit eval</c>: top-1, top-5, per-class accuracy and the confusion matrix of a checkpoint.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<FileInfo>("--checkpoint") { Description = "A checkpoint (model.safetensors of a run, or .pth/.safetensors).", Required = true };
        var data = new Option<string>("--data") { Description = DataArguments.Help + " Fashion-MNIST: its test set.", DefaultValueFactory = _ => DataArguments.FashionMnist };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 256 };
        var skipCorrupt = new Option<bool>("--skip-corrupt") { Description = "Skip unreadable images instead of failing." };
        var imageSize = new Option<int?>("--image-size") { Description = "Evaluate at this input size, a multiple of 16 (attention bias tables resampled when their window changes); default: the checkpoint's." };
        var biasResampling = OptionChecks.BiasResamplingOption();
        var flip = new Option<bool>("--flip") { Description = "Also score each image mirrored left to right and average the two predictions (test-time augmentation; twice the time)." };
        var command = new Command("eval", "Evaluate a checkpoint: top-1, top-5, per-class accuracy, confusion matrix.") { checkpoint, data, batch, imageSize, biasResampling, skipCorrupt, flip };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var batchSize = OptionChecks.AtLeast(parse, batch, 1);
            var size = OptionChecks.ImageSize(parse, imageSize);
            var dataset = DataArguments.Load(parse.GetValue(data)!, FashionMnistSplit.Test, parse.GetValue(skipCorrupt));
            using var loaded = EfficientVitCheckpoint.Load(parse.GetValue(checkpoint)!.FullName,
                new CheckpointLoadOptions { ImageSize = size, BiasResampling = parse.GetValue(biasResampling) });
            // The checkpoint's preprocessing is the contract its weights were trained under.
            var transform = new ImageTransform(loaded.Metadata.Preprocessing, train: false);
            var (metrics, loss) = Evaluator.Evaluate(loaded.Model, dataset, transform, batchSize, flipAverage: parse.GetValue(flip));
            Console.WriteLine($"{metrics.Count:N0} images: top-1 {metrics.Top1Accuracy:P2}" + (metrics.Top5Accuracy is { } top5 ? $", top-5 {top5:P2}" : "") + $", loss {loss:F4}");
            Console.WriteLine(metrics.ToTable(loaded.Metadata.ClassNames ?? dataset.ClassNames.ToArray()));
        }));
        return command;
    }
}
