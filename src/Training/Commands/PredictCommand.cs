using System.CommandLine;
using System.Text.Json;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Checkpoints.Pretrained;
using EfficientViT.ML.Prediction;

namespace EfficientViT.Training.Commands;

/// <summary><c>efficientvit predict IMAGE|FOLDER… [--weights NAME|CHECKPOINT] [--top K] [--json]</c>: the top classes of each image.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var inputs = new Argument<string[]>("images") { Description = "Image files, or folders whose images (.jpg, .jpeg, .png, .bmp, .webp, in subfolders too) are each classified.", Arity = ArgumentArity.OneOrMore };
        var weights = WeightsArguments.Option($"The classifier: {WeightsArguments.Help} Default {EfficientVitPretrained.M0}.");
        var top = new Option<int>("--top") { Description = "How many classes to show per image, most probable first.", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Write one JSON object per image and line: {\"image\", \"predictions\": [{\"index\", \"class\", \"probability\"}]}." };
        var command = new Command("predict", "Classify images with a checkpoint or pretrained weights (ImageNet-1k names for the official and timm ones).") { inputs, weights, top, json };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var count = OptionChecks.AtLeast(parse, top, 1);
            var images = ImagesOf(parse.GetValue(inputs)!);
            using var loaded = EfficientVitCheckpoint.Load(WeightsArguments.Resolve(parse.GetValue(weights) ?? EfficientVitPretrained.M0));
            var predictor = new ImagePredictor(loaded);
            var asJson = parse.GetValue(json);
            var predicted = 0;
            foreach (var image in images)
            {
                ClassPrediction[] predictions;
                try
                {
                    predictions = predictor.Predict(image, count);
                }
                catch (InvalidDataException e)
                {
                    Console.Error.WriteLine($"skipping unreadable image '{image}': {e.InnerException?.Message ?? e.Message}");
                    continue;
                }
                predicted++;
                Console.WriteLine(asJson ? Json(image, predictions) : Text(image, predictions));
            }
            if (predicted == 0)
                throw new InvalidDataException($"no image could be read ({images.Count} tried).");
        }));
        return command;
    }

    // Files as given (in order), and each folder's images sorted by path, so that a listing is reproducible.
    private static List<string> ImagesOf(IEnumerable<string> inputs)
    {
        var images = new List<string>();
        foreach (var input in inputs)
        {
            if (Directory.Exists(input))
            {
                var found = Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories).Where(ImagePredictor.IsImageFile).Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0)
                    throw new ArgumentException($"{input}: the folder holds no images (.jpg, .jpeg, .png, .bmp, .webp).");
                images.AddRange(found);
            }
            else if (File.Exists(input))
            {
                images.Add(input);
            }
            else
            {
                throw new FileNotFoundException($"{input}: no such file or folder.");
            }
        }
        return images;
    }

    private static string Text(string image, ClassPrediction[] predictions) =>
        $"{image}: " + string.Join("; ", predictions.Select(p => $"{p.Probability:P1} {p.Name} ({p.Index})"));

    // Class names and paths as they are ("judge's robe", accents), not \u-escaped: the output is read by people and JSON parsers, not embedded in HTML.
    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Json(string image, ClassPrediction[] predictions) => JsonSerializer.Serialize(new
    {
        image,
        predictions = predictions.Select(p => new { index = p.Index, @class = p.Name, probability = p.Probability }),
    }, JsonOptions);
}
