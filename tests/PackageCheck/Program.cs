// A fresh console application that uses the packed EfficientViT.ML from a local folder, as a user would:
// scripts/package-check.sh creates the project, adds the package and libtorch, copies this file and runs it.
// It exits with 1 when a check fails.
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

var folder = Directory.CreateTempSubdirectory("efficientvit-package-check").FullName;
try
{
    var checkpoint = Path.Combine(folder, "m0.safetensors");
    using (var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 3))
        EfficientVitCheckpoint.Save(model, checkpoint, CheckpointMetadata.FromConfig(model.Config));

    var mlContext = new MLContext(seed: 0);
    var rows = Enumerable.Range(0, 6).Select(i => new Row { Image = Gradient(40 + 7 * i, 30, i) }).ToArray();
    var data = mlContext.Data.LoadFromEnumerable(rows);

    // The packed library's featurizer, in memory and from a saved zip loaded by ML.NET alone.
    using var featurizer = mlContext.Transforms.EfficientVitFeaturize("Features", "Image", checkpoint).Fit(data);
    var inMemory = featurizer.Transform(data).GetColumn<float[]>("Features").ToArray();
    var chain = featurizer.AsMLNetChain().Transform(data).GetColumn<float[]>("Features").ToArray();
    var difference = inMemory.Zip(chain, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max();

    var zip = Path.Combine(folder, "model.zip");
    mlContext.Model.Save(featurizer, null, zip);
    var reloaded = new MLContext().Model.Load(zip, out _).Transform(data).GetColumn<float[]>("Features").ToArray();
    var reloadDifference = inMemory.Zip(reloaded, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max();

    var version = typeof(EfficientVitCatalog).Assembly.GetName().Version;
    Console.WriteLine($"EfficientViT.ML {version}: {inMemory.Length} images -> {inMemory[0].Length} features each; " +
                      $"batched vs ML.NET chain max diff {difference:G3}; saved and reloaded zip max diff {reloadDifference:G3}");
    var ok = inMemory.Length == rows.Length && inMemory.All(f => f.Length == 192 && f.All(float.IsFinite)) && difference <= 1e-4 && reloadDifference <= 1e-6;
    Console.WriteLine(ok ? "package check: ok" : "package check: FAILED");
    return ok ? 0 : 1;
}
finally
{
    Directory.Delete(folder, recursive: true);
}

static MLImage Gradient(int width, int height, int seed)
{
    var rgba = new byte[width * height * 4];
    for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
        {
            var p = (y * width + x) * 4;
            (rgba[p], rgba[p + 1], rgba[p + 2], rgba[p + 3]) = ((byte)(x * 255 / width), (byte)(y * 255 / height), (byte)(seed * 40), 255);
        }
    return MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba);
}

internal sealed class Row
{
    [ImageType(30, 40)]
    public MLImage? Image { get; set; }
}
