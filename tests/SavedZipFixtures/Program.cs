// Saves featurizer pipelines the way a user of this version saves them, with the features they give,
// so that later versions can prove the zips still load and score the same.
//   dotnet run --project tests/SavedZipFixtures -c Release -- tests/EfficientViT.ML.Tests/Fixtures/saved-zips PREFIX
// PREFIX starts every zip's name (e.g. "mlnet5.0.1-"); the images are the same for every version.
using EfficientViT.ML;
using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

var output = args.Length > 0 ? args[0] : ".";
var prefix = args.Length > 1 ? args[1] : "";
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
// Images of the model's size, which ML.NET's ResizeImages passes on untouched: their features do not depend on
// how a version of ML.NET resamples (ML.NET 6 shrinks images with other weights than 5.0.1 did).
var squares = Enumerable.Range(0, 4).Select(i =>
{
    var rgba = new byte[64 * 64 * 4];
    random.NextBytes(rgba);
    for (var p = 3; p < rgba.Length; p += 4)
        rgba[p] = 255;
    File.WriteAllBytes(Path.Combine(output, $"square{i}_64x64.rgba"), rgba);
    return rgba;
}).ToArray();
IDataView Squares() => mlContext.Data.LoadFromEnumerable(squares.Select(rgba => new ImageRow { Image = MLImage.CreateFromPixels(64, 64, MLPixelFormat.Rgba32, rgba) }).ToArray());

// Images: float32, and int8 calibrated on 20 other random images (random weights miss the quality target; kept anyway).
var calibration = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, 20).Select(i =>
{
    var rgba = new byte[80 * 70 * 4];
    random.NextBytes(rgba);
    return new ImageRow { Image = MLImage.CreateFromPixels(80, 70, MLPixelFormat.Rgba32, rgba) };
}).ToArray());
SaveFeaturizer("featurizer-image-64", data, new EfficientVitFeaturizerOptions { Model = model, BatchSize = 4 }, Squares);
SaveFeaturizer("featurizer-image-64-int8", data, new EfficientVitFeaturizerOptions
{
    Model = model, BatchSize = 4, Quantization = EfficientVitQuantization.Int8, CalibrationData = calibration,
    Int8Quality = new Int8QualityOptions { AcceptBelowTarget = true },
}, Squares);

// Preprocessed pixel vectors (two rows of 3x64x64 normalized values), written beside the zip.
var vectors = Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, 3 * 64 * 64).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray()).ToArray();
WriteFloats(Path.Combine(output, $"{prefix}featurizer-pixels-64.pixels.f32"), vectors);
SaveFeaturizer("featurizer-pixels-64", mlContext.Data.LoadFromEnumerable(vectors.Select(v => new PixelRow { Pixels = v })),
    new EfficientVitFeaturizerOptions { Model = model, BatchSize = 4, InputColumnName = "Pixels" });

// squares: images of the model's size (a new data view each time: ResizeImages disposes images it passes on once read).
void SaveFeaturizer(string name, IDataView input, EfficientVitFeaturizerOptions options, Func<IDataView>? squares = null)
{
    using var featurizer = mlContext.Transforms.EfficientVitFeaturize(options).Fit(input);
    // An image column is not a savable input schema (ML.NET says "No valid columns to save"); users save without one.
    mlContext.Model.Save(featurizer, null, Path.Combine(output, $"{prefix}{name}.zip"));
    var features = featurizer.Transform(input).GetColumn<float[]>("Features").ToArray();
    WriteFloats(Path.Combine(output, $"{prefix}{name}.features.f32"), features);
    if (squares is not null)
        WriteFloats(Path.Combine(output, $"{prefix}{name}.square-features.f32"), featurizer.Transform(squares()).GetColumn<float[]>("Features").ToArray());
    Console.WriteLine($"{prefix}{name}: {features.Length}x{features[0].Length} features");
}

static void WriteFloats(string path, float[][] rows)
{
    using var writer = new BinaryWriter(File.Create(path));
    foreach (var value in rows.SelectMany(f => f))
        writer.Write(value);
}

internal sealed class ImageRow
{
    [Microsoft.ML.Transforms.Image.ImageType(64, 64)]
    public MLImage? Image { get; set; }
}

internal sealed class PixelRow
{
    [VectorType(3, 64, 64)]
    public float[] Pixels { get; set; } = [];
}
