using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace EfficientViT.ML.Tests.Featurization;

/// <summary>Zips saved by earlier versions (Fixtures/saved-zips, with the program that wrote them) keep loading and scoring the same.</summary>
public class SavedZipCompatibilityTests
{
    private sealed class ImageRow
    {
        [ImageType(64, 64)]
        public MLImage? Image { get; set; }
    }

    [Fact]
    public void A_featurizer_zip_saved_before_the_reshaping_loads_and_gives_the_features_it_gave_then()
    {
        var folder = TestFiles.Fixture("saved-zips");
        var images = Directory.GetFiles(folder, "image*.rgba").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(6, images.Length);
        var rows = images.Select(path =>
        {
            var size = Path.GetFileNameWithoutExtension(path).Split('_')[1].Split('x').Select(int.Parse).ToArray();
            return new ImageRow { Image = MLImage.CreateFromPixels(size[0], size[1], MLPixelFormat.Rgba32, File.ReadAllBytes(path)) };
        }).ToArray();
        var expected = TestFiles.ReadFloat32(Path.Combine(folder, "featurizer-image-64.features.f32"), 6, 48).data<float>().ToArray();
        var mlContext = new MLContext(seed: 0);
        var data = mlContext.Data.LoadFromEnumerable(rows);

        var loaded = mlContext.Model.Load(Path.Combine(folder, "featurizer-image-64.zip"), out _);
        var features = loaded.Transform(data).GetColumn<float[]>("Features").ToArray();

        Assert.Equal(6, features.Length);
        var maxDifference = features.SelectMany(f => f).Zip(expected, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDifference <= 1e-5f, $"max abs difference {maxDifference}");
        Assert.Contains(features.SelectMany(f => f), v => v != 0);
        foreach (var row in rows)
            row.Image!.Dispose();
    }
}
