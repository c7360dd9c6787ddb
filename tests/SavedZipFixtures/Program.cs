// Saves featurizer pipelines the way a user of this version saves them, with the features they give,
// so that later versions can prove the zips still load and score the same.
//   dotnet run --project tests/SavedZipFixtures -c Release -- tests/EfficientViT.ML.Tests/Fixtures/saved-zips
using EfficientViT.ML;
using EfficientViT.ML.Featurization;
using EfficientViT.ML.Modeling;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

var output = args.Length > 0 ? args[0] : ".";
Directory.CreateDirectory(output);
torch.manual_seed(7);
// A narrow custom architecture keeps the fixture small; the graph has every kind of layer M0 has.
var config = new EfficientVitConfig([16, 32, 48], [1, 1, 1], [2, 2, 2], [5, 5, 5, 5], ImageSize: 64, NumClasses: 0);
using var model = new EfficientVit(config);
model.eval();
// Non-trivial BatchNorm statistics, so that fusion is exercised.
foreach (var (name, buffer) in model.named_buffers())
    if (name.EndsWith("running_var", StringComparison.Ordinal))
        buffer.copy_(torch.rand(buffer.shape) + 0.5f);

var mlContext = new MLContext(seed: 0);
const int images = 6;
var random = new Random(3);
var rows = Enumerable.Range(0, images).Select(i =>
{
    // Sizes that exercise the short-side resize and center crop: wider, taller and square, smaller and larger than 64.
    int width = 40 + 17 * i, height = 90 - 9 * i;
    var rgba = new byte[width * height * 4];
    random.NextBytes(rgba);
    for (var p = 3; p < rgba.Length; p += 4)
        rgba[p] = 255;
    File.WriteAllBytes(Path.Combine(output, $"image{i}_{width}x{height}.rgba"), rgba);
    return new ImageRow { Image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba) };
}).ToArray();
var data = mlContext.Data.LoadFromEnumerable(rows);

using var featurizer = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { Model = model, BatchSize = 4 }).Fit(data);
// An image column is not a savable input schema (ML.NET says "No valid columns to save"); users save without one.
mlContext.Model.Save(featurizer, null, Path.Combine(output, "featurizer-image-64.zip"));
var features = featurizer.Transform(data).GetColumn<float[]>("Features").ToArray();
using (var writer = new BinaryWriter(File.Create(Path.Combine(output, "featurizer-image-64.features.f32"))))
    foreach (var value in features.SelectMany(f => f))
        writer.Write(value);
Console.WriteLine($"wrote {images} images, the zip and {features.Length}x{features[0].Length} features to {output}");

internal sealed class ImageRow
{
    [Microsoft.ML.Transforms.Image.ImageType(64, 64)]
    public MLImage? Image { get; set; }
}
