using EfficientViT.ML.Checkpoints.Pretrained;
using EfficientViT.ML.Data;
using EfficientViT.ML.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.Checkpoints.Pretrained;

/// <summary>
/// The featurizer's and the trainer's ModelPath take a pretrained name, resolved through the environment as an
/// application's would be (EFFICIENTVIT_HOME holding the M0 fixture, EFFICIENTVIT_OFFLINE=1).
/// </summary>
[Collection(nameof(ProcessEnvironmentCollection))]
public sealed class NamesInTheLibraryTests : IDisposable
{
    private static readonly string Fixture = TestFiles.OfficialM0("efficientvit_m0.pth");

    private readonly CacheFolder cache = new();
    private readonly Dictionary<string, string?> saved = [];

    public NamesInTheLibraryTests()
    {
        Directory.CreateDirectory(cache.Path);
        File.Copy(Fixture, cache.File("efficientvit_m0.pth"));
        Set(PretrainedWeightsOptions.HomeVariable, cache.Path);
        Set(PretrainedWeightsOptions.OfflineVariable, "1");
    }

    private void Set(string variable, string value)
    {
        saved[variable] = Environment.GetEnvironmentVariable(variable);
        Environment.SetEnvironmentVariable(variable, value);
    }

    public void Dispose()
    {
        foreach (var (variable, value) in saved)
            Environment.SetEnvironmentVariable(variable, value);
        cache.Dispose();
    }

    private sealed class BytesRow
    {
        public byte[] Photo { get; set; } = [];
    }

    [Fact]
    public void The_featurizer_takes_a_name_and_gives_the_features_of_the_file()
    {
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(new[] { "rgb.png", "rgba_alpha128.png" }
            .Select(f => new BytesRow { Photo = File.ReadAllBytes(TestFiles.Fixture("hostile-images", f)) }).ToList());

        using var byName = mlContext.Transforms.EfficientVitFeaturize("Features", "Photo", EfficientVitPretrained.M0).Fit(data);
        using var byPath = mlContext.Transforms.EfficientVitFeaturize("Features", "Photo", Fixture).Fit(data);

        var named = byName.Transform(data).GetColumn<float[]>("Features").ToList();
        var pathed = byPath.Transform(data).GetColumn<float[]>("Features").ToList();
        Assert.Equal(pathed, named);
        Assert.Equal(192, named[0].Length);
        Assert.True(File.Exists(cache.File("efficientvit_m0.pth.sha256")));
    }

    [Fact]
    public void Training_setups_and_so_the_trainer_take_a_name()
    {
        var samples = Enumerable.Range(0, 4).Select(i => new ImageSample(new byte[32 * 32 * 3], 32, 32, 3, i % 2, $"image {i}")).ToList();
        using var setup = TrainingSetup.Prepare(new TrainingSetupOptions { Checkpoint = "m0", Epochs = 1 }, new InMemoryImageDataset(samples, ["a", "b"]));
        Assert.Equal("M0", setup.Model.Config.VariantName);
        Assert.Equal(2, setup.Model.Config.NumClasses);
        Assert.Equal(224, setup.Model.Config.ImageSize);

        var error = Assert.Throws<PretrainedWeightsException>(() => TrainingSetup.Prepare(new TrainingSetupOptions { Checkpoint = "m3" }, new InMemoryImageDataset(samples, ["a", "b"])));
        Assert.Contains("EFFICIENTVIT_OFFLINE=1 forbids downloading it", error.Message);
    }
}

/// <summary>Tests that change the process's environment variables run one at a time, apart from each other.</summary>
[CollectionDefinition(nameof(ProcessEnvironmentCollection), DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection;
