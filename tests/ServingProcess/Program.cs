// Usage: ServingProcess MODEL.zip IMAGES.txt OUTPUT.tsv
// IMAGES.txt holds one image path per line. Loads the model with LoadWithBatchedScoring and writes one line per
// image: the features from Transform, a tab, and the features from a PredictionEngine (comma-separated floats,
// round-trip format). Then lists the native libraries of libtorch or TorchSharp the process mapped, one per line
// on standard output, and exits with 3 when there is any.
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: ServingProcess MODEL.zip IMAGES.txt OUTPUT.tsv");
    return 2;
}
var mlContext = new MLContext();
var model = mlContext.Model.LoadWithBatchedScoring(args[0], out _);
var rows = File.ReadAllLines(args[1]).Where(l => l.Length > 0).Select(path => new ImageRow { ImagePath = path }).ToList();
var images = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath)).Fit(mlContext.Data.LoadFromEnumerable(rows));
var serving = images.Append(model);
var batched = serving.Transform(mlContext.Data.LoadFromEnumerable(rows)).GetColumn<float[]>("Features").ToList();
using (var engine = mlContext.Model.CreatePredictionEngine<ImageRow, FeatureRow>(serving))
{
    string Format(float[] vector) => string.Join(",", vector.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
    File.WriteAllLines(args[2], rows.Select((row, i) => Format(batched[i]) + "\t" + Format(engine.Predict(row).Features)));
}
(model as IDisposable)?.Dispose();

var torchLibraries = File.ReadLines("/proc/self/maps")
    .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
    .Where(path => Path.GetFileName(path) is var name && (name.StartsWith("libtorch", StringComparison.Ordinal) || name.StartsWith("libc10", StringComparison.Ordinal) || name.Contains("LibTorchSharp", StringComparison.Ordinal)))
    .Distinct()
    .ToList();
foreach (var library in torchLibraries)
    Console.WriteLine(library);
return torchLibraries.Count > 0 ? 3 : 0;

internal sealed class ImageRow
{
    public string ImagePath { get; set; } = "";
}

internal sealed class FeatureRow
{
    public float[] Features { get; set; } = [];
}
