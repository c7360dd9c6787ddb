using System.CommandLine;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.IO;
using EfficientViT.ML.Onnx;

namespace EfficientViT.Training.Commands;

/// <summary><c>efficientvit export CHECKPOINT -o model.onnx</c>: the BN-fused model as ONNX.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = WeightsArguments.Argument();
        var weights = WeightsArguments.Option();
        var output = new Option<FileInfo>("--output", "-o") { Description = "The .onnx file to write.", Required = true };
        var normalize = new Option<bool>("--normalize") { Description = "Take RGB pixels in [0, 255] and normalize inside the graph with the checkpoint's mean/std." };
        var imageSize = new Option<int?>("--image-size") { Description = "Run the model at this input size, a multiple of 16 (attention bias tables resampled when their window changes); default: the checkpoint's." };
        var biasResampling = OptionChecks.BiasResamplingOption();
        var inputSize = new Option<int?>("--input-size") { Description = "Take larger square images and center-crop them in the graph (e.g. 256 for the ImageNet evaluation crop)." };
        var noLogits = new Option<bool>("--features-only") { Description = "Leave out the classifier: the graph outputs only the pooled features." };
        var opset = new Option<int>("--opset") { Description = "ONNX opset (17 or newer).", DefaultValueFactory = _ => 17 };
        var int8 = new Option<bool>("--int8") { Description = "Write an int8 graph (QDQ, calibrated on --calibration): about a quarter of the size, faster on CPUs with int8 dot products (AVX-512 VNNI, AVX-VNNI)." };
        var calibration = new Option<string?>("--calibration") { Description = "With --int8: the images to calibrate on, as --data of train: 'fashion-mnist' (its training set), a folder with one subfolder per class, or a CSV manifest." };
        var calibrationCount = new Option<int>("--calibration-images") { Description = "With --int8: how many images of --calibration to use, spread evenly over it.", DefaultValueFactory = _ => 256 };
        var calibrationMethod = new Option<Int8CalibrationMethod>("--calibration-method") { Description = "With --int8: how activation ranges are set from the calibration values.", DefaultValueFactory = _ => Int8Calibrator.DefaultMethod };
        var targetMean = new Option<double>("--int8-min-mean-cosine") { Description = "With --int8: the lowest mean cosine of int8 to float32 features, on every fifth calibration image held out, that passes.", DefaultValueFactory = _ => new Int8QualityOptions().MinimumMeanCosine };
        var targetLowest = new Option<double>("--int8-min-lowest-cosine") { Description = "With --int8: the lowest cosine of any one held-out image that passes.", DefaultValueFactory = _ => new Int8QualityOptions().MinimumLowestCosine };
        var acceptBelow = new Option<bool>("--int8-accept-below-target") { Description = "With --int8: when no graph (the repairs included) meets the target, write the best one with a warning instead of failing." };
        var noRepair = new Option<bool>("--int8-no-repair") { Description = "With --int8: below the target, do not try the repairs (bias correction, the residual stream float, float convolutions); fail or accept at once." };
        var command = new Command("export", "Export a checkpoint to ONNX (BatchNorm fused, dynamic batch).")
        {
            checkpoint, weights, output, imageSize, biasResampling, normalize, inputSize, noLogits, opset, int8, calibration, calibrationCount, calibrationMethod,
            targetMean, targetLowest, acceptBelow, noRepair,
        };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            // An export stopped half-way leaves no temporary file beside --output.
            using var interrupted = UnfinishedFiles.DeleteOnInterrupt();
            var size = OptionChecks.ImageSize(parse, imageSize);
            var checkpointPath = WeightsArguments.Resolve(parse, checkpoint, weights, "export");
            using var loaded = EfficientVitCheckpoint.Load(checkpointPath, new CheckpointLoadOptions { ImageSize = size, BiasResampling = parse.GetValue(biasResampling) });
            OptionChecks.WarnIfResizedWeightsUntrained(checkpointPath, loaded);
            var path = parse.GetValue(output)!.FullName;
            var options = new OnnxExportOptions
            {
                Preprocessing = parse.GetValue(normalize) ? loaded.Metadata.Preprocessing : null,
                InputSize = parse.GetValue(inputSize),
                IncludeLogits = !parse.GetValue(noLogits),
                Opset = parse.GetValue(opset),
            };
            if (parse.GetValue(int8))
            {
                var data = parse.GetValue(calibration) ?? throw new ArgumentException("--int8 needs --calibration DATA: the images to measure activation ranges on.");
                if (options.InputSize is not null)
                    throw new ArgumentException("--int8 calibrates on images of the model's size: leave out --input-size.");
                var count = OptionChecks.AtLeast(parse, calibrationCount, 1);
                var images = CalibrationImages.Load(DataArguments.Load(data, FashionMnistSplit.Train, skipCorrupt: false),
                    loaded.Metadata.Preprocessing, count, normalizationInGraph: options.Preprocessing is not null);
                Console.WriteLine($"calibrating on {images.Count} images of {data} ({parse.GetValue(calibrationMethod)}), every fifth held out to measure the int8 graph on");
                var quality = new Int8QualityOptions
                {
                    MinimumMeanCosine = parse.GetValue(targetMean),
                    MinimumLowestCosine = parse.GetValue(targetLowest),
                    AcceptBelowTarget = parse.GetValue(acceptBelow),
                    Repair = !parse.GetValue(noRepair),
                };
                var quantization = Int8Quantizer.Quantize(loaded.Model, images, options, parse.GetValue(calibrationMethod), quality,
                    log: line => Console.WriteLine($"  {line}"));
                Console.WriteLine(quantization.Quality);
                if (!quantization.Quality.MeetsTarget)
                    Console.Error.WriteLine($"warning: the int8 graph is below the target ({quantization.Quality.Target}); written because --int8-accept-below-target is set");
                options.Int8 = quantization.Options;
                // The graph the quantizer kept was written with these options: no second export.
                AtomicFile.Write(path, stream => stream.Write(quantization.Graph));
            }
            else
            {
                EfficientVitOnnxExporter.Export(loaded.Model, path, options);
            }
            Console.WriteLine($"wrote {path} ({new FileInfo(path).Length / 1024.0 / 1024.0:F1} MiB): EfficientViT-{loaded.Metadata.Variant}, " +
                $"input '{options.InputName}' (batch, 3, {options.InputSize ?? loaded.Metadata.ImageSize}, {options.InputSize ?? loaded.Metadata.ImageSize}), " +
                $"outputs '{options.FeaturesOutputName}'{(options.IncludeLogits && loaded.Metadata.NumClasses > 0 ? $", '{options.LogitsOutputName}'" : "")}");
        }));
        return command;
    }
}
