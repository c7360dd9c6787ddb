// Usage: FreshProcess MODEL.zip IMAGES.txt OUTPUT.tsv [FEATURE_COLUMN] [PREDICTED_COLUMN] [ASSEMBLY.dll]
// IMAGES.txt holds one image path per line. Writes one line per image: predicted label (or "-"),
// a tab, and the feature vector as comma-separated floats (round-trip format). ASSEMBLY.dll, when
// given, is registered with ML.NET before loading (models with CustomMapping steps need theirs).
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

if (args.Length < 3)
{
    Console.Error.WriteLine("usage: FreshProcess MODEL.zip IMAGES.txt OUTPUT.tsv [FEATURE_COLUMN] [PREDICTED_COLUMN] [ASSEMBLY.dll]");
    return 2;
}
var featureColumn = args.Length > 3 ? args[3] : "Features";
var predictedColumn = args.Length > 4 ? args[4] : "PredictedLabel";

var mlContext = new MLContext();
if (args.Length > 5)
    mlContext.ComponentCatalog.RegisterAssembly(System.Reflection.Assembly.LoadFrom(args[5]));
var model = mlContext.Model.Load(args[0], out _);
var rows = File.ReadAllLines(args[1]).Where(l => l.Length > 0).Select(path => new ImageRow { ImagePath = path, Label = "" });
var scored = model.Transform(mlContext.Data.LoadFromEnumerable(rows));

var features = scored.GetColumn<float[]>(featureColumn).ToList();
var labels = scored.Schema.GetColumnOrNull(predictedColumn) is null
    ? features.Select(_ => "-").ToList()
    : scored.GetColumn<string>(predictedColumn).ToList();
File.WriteAllLines(args[2], labels.Zip(features, (label, vector) =>
    label + "\t" + string.Join(",", vector.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
return 0;

internal sealed class ImageRow
{
    public string ImagePath { get; set; } = "";

    public string Label { get; set; } = "";
}
