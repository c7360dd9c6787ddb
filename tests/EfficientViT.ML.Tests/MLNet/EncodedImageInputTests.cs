using EfficientViT.ML.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.MLNet;

public class EncodedImageInputTests
{
    private static readonly string CheckpointPath = TestFiles.OfficialM0("efficientvit_m0.pth");

    private sealed class BytesRow
    {
        public byte[] Photo { get; set; } = [];
    }

    private sealed class FeaturesRow
    {
        public float[] Features { get; set; } = [];
    }

    [Fact]
    public void Encoded_bytes_give_the_features_of_the_decoded_images_and_survive_save_and_load()
    {
        using var dir = new TempDirectory();
        var images = TestImages.WriteColorImages(dir.Path, perClass: 2, size: 40, seed: 8);
        var mlContext = new MLContext();
        var fromFiles = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath))
            .Append(mlContext.Transforms.EfficientVitFeaturize("Features", "Image", CheckpointPath));
        var fileData = mlContext.Data.LoadFromEnumerable(images);
        var expected = fromFiles.Fit(fileData).Transform(fileData).GetColumn<float[]>("Features").ToList();

        var byteData = mlContext.Data.LoadFromEnumerable(images.Select(r => new BytesRow { Photo = File.ReadAllBytes(r.ImagePath) }).ToList());
        var model = mlContext.Transforms.EfficientVitFeaturize("Features", "Photo", CheckpointPath).Fit(byteData);
        var actual = model.Transform(byteData).GetColumn<float[]>("Features").ToList();
        Assert.Equal(expected, actual);

        var path = dir.File("bytes-model.zip");
        mlContext.Model.Save(model, byteData.Schema, path);
        var loadingContext = new MLContext();
        loadingContext.ComponentCatalog.RegisterAssembly(typeof(EncodedImageDecoder).Assembly);
        var loaded = loadingContext.Model.Load(path, out _);
        var reloaded = loaded.Transform(byteData).GetColumn<float[]>("Features").ToList();
        for (var i = 0; i < expected.Count; i++)
            Assert.True(expected[i].Zip(reloaded[i], (a, b) => Math.Abs(a - b)).Max() <= 1e-5f, $"row {i}");
        Assert.Equal(["Photo", "Features"], loaded.GetOutputSchema(byteData.Schema).Select(c => c.Name));
    }

    [Fact]
    public void Undecodable_bytes_name_the_row()
    {
        using var dir = new TempDirectory();
        var images = TestImages.WriteColorImages(dir.Path, perClass: 1, size: 32, seed: 9);
        var rows = images.Select(r => new BytesRow { Photo = File.ReadAllBytes(r.ImagePath) }).ToList();
        rows.Insert(1, new BytesRow { Photo = [1, 2, 3, 4] });
        rows.Add(new BytesRow { Photo = [] });
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var model = mlContext.Transforms.EfficientVitFeaturize("Features", "Photo", CheckpointPath).Fit(data);

        var error = Assert.ThrowsAny<Exception>(() => model.Transform(data).GetColumn<float[]>("Features").ToList());
        var messages = TestFiles.Messages(error);
        Assert.True(messages.Any(m => m.Contains("row 1", StringComparison.Ordinal) && m.Contains("'Photo'", StringComparison.Ordinal)
            && m.Contains("4 bytes are not an image that can be decoded", StringComparison.Ordinal)), string.Join(" / ", messages));
    }

    [Fact]
    public void Alpha_is_dropped_from_encoded_images_as_pil_drops_it()
    {
        string[] files = ["rgb.png", "rgba_alpha0.png", "rgba_alpha128.png"];
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(files.Select(f => new BytesRow { Photo = File.ReadAllBytes(TestFiles.Fixture("hostile-images", f)) }).ToList());
        var model = mlContext.Transforms.EfficientVitFeaturize("Features", "Photo", CheckpointPath).Fit(data);

        var features = model.Transform(data).GetColumn<float[]>("Features").ToList();

        Assert.Equal(features[0], features[1]);
        Assert.Equal(features[0], features[2]);
    }

    [Theory]
    [InlineData("truncated.png", "ends early")]
    [InlineData("garbage.png", "")]
    public void Truncated_and_corrupt_bytes_name_the_row(string file, string reason)
    {
        var rows = new[] { "rgb.png", file }.Select(f => new BytesRow { Photo = File.ReadAllBytes(TestFiles.Fixture("hostile-images", f)) }).ToList();
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var model = mlContext.Transforms.EfficientVitFeaturize("Features", "Photo", CheckpointPath).Fit(data);

        var error = Assert.ThrowsAny<Exception>(() => model.Transform(data).GetColumn<float[]>("Features").ToList());

        var messages = TestFiles.Messages(error);
        Assert.True(messages.Any(m => m.Contains("row 1", StringComparison.Ordinal) && m.Contains("not an image that can be decoded", StringComparison.Ordinal)
            && m.Contains(reason, StringComparison.Ordinal)), string.Join(" / ", messages));
    }
}
