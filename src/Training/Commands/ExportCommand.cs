using System.CommandLine;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Onnx;

namespace EfficientViT.Training.Commands;

/// <summary><c>efficientvit export CHECKPOINT -o model.onnx</c>: the BN-fused model as ONNX.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<FileInfo>("checkpoint") { Description = "An official .pth, a timm .safetensors, or a checkpoint written by this tool." };
        var output = new Option<FileInfo>("--output", "-o") { Description = "The .onnx file to write.", Required = true };
        var normalize = new Option<bool>("--normalize") { Description = "Take RGB pixels in [0, 255] and normalize inside the graph with the checkpoint's mean/std." };
        var imageSize = new Option<int?>("--image-size") { Description = "Run the model at this input size, a multiple of 16 (attention bias tables resampled when their window changes); default: the checkpoint's." };
        var biasResampling = OptionChecks.BiasResamplingOption();
        var inputSize = new Option<int?>("--input-size") { Description = "Take larger square images and center-crop them in the graph (e.g. 256 for the ImageNet evaluation crop)." };
        var noLogits = new Option<bool>("--features-only") { Description = "Leave out the classifier: the graph outputs only the pooled features." };
        var opset = new Option<int>("--opset") { Description = "ONNX opset (17 or newer).", DefaultValueFactory = _ => 17 };
        var command = new Command("export", "Export a checkpoint to ONNX (BatchNorm fused, dynamic batch).") { checkpoint, output, imageSize, biasResampling, normalize, inputSize, noLogits, opset };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            using var loaded = EfficientVitCheckpoint.Load(parse.GetValue(checkpoint)!.FullName, new CheckpointLoadOptions { ImageSize = OptionChecks.ImageSize(parse, imageSize), BiasResampling = parse.GetValue(biasResampling) });
            var path = parse.GetValue(output)!.FullName;
            var options = new OnnxExportOptions
            {
                Preprocessing = parse.GetValue(normalize) ? loaded.Metadata.Preprocessing : null,
                InputSize = parse.GetValue(inputSize),
                IncludeLogits = !parse.GetValue(noLogits),
                Opset = parse.GetValue(opset),
            };
            EfficientVitOnnxExporter.Export(loaded.Model, path, options);
            Console.WriteLine($"wrote {path} ({new FileInfo(path).Length / 1024.0 / 1024.0:F1} MiB): EfficientViT-{loaded.Metadata.Variant}, " +
                $"input '{options.InputName}' (batch, 3, {options.InputSize ?? loaded.Metadata.ImageSize}, {options.InputSize ?? loaded.Metadata.ImageSize}), " +
                $"outputs '{options.FeaturesOutputName}'{(options.IncludeLogits && loaded.Metadata.NumClasses > 0 ? $", '{options.LogitsOutputName}'" : "")}");
        }));
        return command;
    }
}
