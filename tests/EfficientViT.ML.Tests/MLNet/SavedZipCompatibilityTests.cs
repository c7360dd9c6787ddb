using EfficientViT.ML.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>
/// Zips saved by earlier versions (Fixtures/saved-zips, with the program that wrote them) keep loading, with
/// ML.NET's <c>Model.Load</c> and with <c>LoadWithBatchedScoring</c>, and give the features they gave then.
/// </summary>
public class SavedZipCompatibilityTests
{
    private sealed class ImageRow
    {
        [ImageType(64, 64)]
        public MLImage? Image { get; set; }
    }

    private sealed class PixelRow
    {
        [VectorType(3, 64, 64)]
        public float[] Pixels { get; set; } = [];
    }

    private const int FeatureSize = 48;

    private static string Folder => TestFiles.Fixture("saved-zips");

    /// <summary>Every zip in the fixture folder.</summary>
    public static TheoryData<string> Zips() => [.. ZipNames()];

    private static string[] ZipNames() => Directory.GetFiles(Folder, "*.zip").Select(path => Path.GetFileName(path)).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void The_fixtures_hold_the_zips_of_each_earlier_version()
    {
        Assert.Equal(["featurizer-image-64.zip", "mlnet5.0.1-featurizer-image-64-int8.zip", "mlnet5.0.1-featurizer-image-64.zip", "mlnet5.0.1-featurizer-pixels-64.zip"],
            ZipNames());
    }

    [Theory]
    [MemberData(nameof(Zips))]
    public void A_zip_saved_by_an_earlier_version_loads_and_gives_the_features_it_gave_then(string zip)
    {
        var mlContext = new MLContext(seed: 0);
        var name = Path.GetFileNameWithoutExtension(zip);
        var pixels = name.Contains("pixels", StringComparison.Ordinal);
        // Images of the model's size, which ML.NET's ResizeImages passes on untouched (ML.NET 6 shrinks larger images
        // with other weights than 5.0.1 did); the first version's zip holds the same network as the 5.0.1 float32 one.
        // A new data view for each pass: ResizeImages disposes an image it passes on once read.
        var (data, rows, expectedFile) = pixels
            ? ((Func<IDataView>)(() => PixelVectors(mlContext, name)), 2, $"{name}.features.f32")
            : (() => Images(mlContext, "square*.rgba"), 4, $"{(name.StartsWith("mlnet", StringComparison.Ordinal) ? name : "mlnet5.0.1-" + name)}.square-features.f32");
        var expected = TestFiles.ReadFloat32(Path.Combine(Folder, expectedFile), rows, FeatureSize).data<float>().ToArray();

        var plain = mlContext.Model.Load(Path.Combine(Folder, zip), out _);
        using var batched = (IDisposable)mlContext.Model.LoadWithBatchedScoring(Path.Combine(Folder, zip), new BatchedScoringOptions { BatchSize = 3 }, out _);
        var plainFeatures = Features(plain, data());
        var batchedFeatures = Features((ITransformer)batched, data());

        Assert.Equal(rows * FeatureSize, plainFeatures.Length);
        Assert.Contains(plainFeatures, v => v != 0);
        AssertFeaturesOfThen(expected, plainFeatures);
        AssertFeaturesOfThen(expected, batchedFeatures);
    }

    [Theory]
    [MemberData(nameof(Zips))]
    public void A_zip_saved_by_an_earlier_version_scores_images_of_any_size_as_ML_NET_loads_it(string zip)
    {
        var mlContext = new MLContext(seed: 0);
        var data = zip.Contains("pixels", StringComparison.Ordinal) ? PixelVectors(mlContext, Path.GetFileNameWithoutExtension(zip)) : Images(mlContext, "image*.rgba");

        var plain = Features(mlContext.Model.Load(Path.Combine(Folder, zip), out _), data);
        using var batched = (IDisposable)mlContext.Model.LoadWithBatchedScoring(Path.Combine(Folder, zip), new BatchedScoringOptions { BatchSize = 4 }, out _);

        Assert.Equal(0f, MaxAbsDifference(plain, Features((ITransformer)batched, data)));
    }

    private static IDataView PixelVectors(MLContext mlContext, string zipName)
    {
        var values = TestFiles.ReadFloat32(Path.Combine(Folder, $"{zipName}.pixels.f32"), 2, 3 * 64 * 64).data<float>().ToArray();
        return mlContext.Data.LoadFromEnumerable(values.Chunk(3 * 64 * 64).Select(v => new PixelRow { Pixels = v }).ToArray());
    }

    private static IDataView Images(MLContext mlContext, string pattern)
    {
        var images = Directory.GetFiles(Folder, pattern).Order(StringComparer.Ordinal).Select(path =>
        {
            var size = Path.GetFileNameWithoutExtension(path).Split('_')[1].Split('x').Select(int.Parse).ToArray();
            return new ImageRow { Image = MLImage.CreateFromPixels(size[0], size[1], MLPixelFormat.Rgba32, File.ReadAllBytes(path)) };
        }).ToArray();
        Assert.NotEmpty(images);
        return mlContext.Data.LoadFromEnumerable(images);
    }

    private static float[] Features(ITransformer model, IDataView data) =>
        model.Transform(data).GetColumn<float[]>("Features").SelectMany(f => f).ToArray();

    private static float MaxAbsDifference(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    /// <summary>
    /// The features of then, to float32's rounding: they were written on a CPU with AVX-512, and a CPU with AVX2 only
    /// runs other float kernels that round differently (5.8e-11 apart on features up to 1.8e-4; the int8 zip's came out the same).
    /// A zip read wrongly would be off in the first digits.
    /// </summary>
    private static void AssertFeaturesOfThen(float[] expected, float[] actual)
    {
        var scale = expected.Max(Math.Abs);
        var difference = MaxAbsDifference(expected, actual);
        Assert.True(difference <= 1e-5f * scale, $"features differ from those of then by {difference} (largest feature {scale})");
    }
}
