using System.CommandLine;
using EfficientViT.ML.Checkpoints;

namespace EfficientViT.Training.Commands;

/// <summary><c>efficientvit info CHECKPOINT|NAME</c>: what a checkpoint holds.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var checkpoint = WeightsArguments.Argument();
        var weights = WeightsArguments.Option();
        var command = new Command("info", "Show the variant, input size, classes and preprocessing a checkpoint holds.") { checkpoint, weights };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            using var loaded = EfficientVitCheckpoint.Load(WeightsArguments.Resolve(parse, checkpoint, weights, "info"));
            var metadata = loaded.Metadata;
            var parameters = loaded.Model.parameters().Sum(p => p.numel());
            Console.WriteLine($"format:      {loaded.Format}");
            Console.WriteLine($"variant:     EfficientViT-{metadata.Variant} (embed dims {string.Join("/", metadata.EmbedDims)}, depths {string.Join("/", metadata.Depths)}, heads {string.Join("/", metadata.NumHeads)})");
            Console.WriteLine($"input:       {metadata.ImageSize}x{metadata.ImageSize}, mean [{string.Join(", ", metadata.Preprocessing.Mean)}], std [{string.Join(", ", metadata.Preprocessing.Std)}]");
            Console.WriteLine($"resize:      {metadata.Preprocessing.Interpolation?.ToString().ToLowerInvariant() ?? "not recorded (an earlier version's file: bilinear in train and eval, bicubic in the featurizer and export)"}");
            Console.WriteLine($"classes:     {metadata.NumClasses}{(metadata.Distillation ? " (with distillation head)" : "")}");
            if (metadata.ClassNames is { } names)
                Console.WriteLine($"class names: {string.Join(", ", names.Take(20))}{(names.Length > 20 ? ", ..." : "")}");
            Console.WriteLine($"parameters:  {parameters:N0}");
            foreach (var (key, value) in metadata.Training)
                Console.WriteLine($"training.{key}: {value}");
        }));
        return command;
    }
}
