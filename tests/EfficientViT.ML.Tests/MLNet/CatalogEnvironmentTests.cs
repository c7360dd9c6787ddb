using EfficientViT.ML.MLNet;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>
/// The non-public ML.NET members the library reads (all in <c>CatalogEnvironment</c>) are there and mean what the
/// library takes them to mean: a version of ML.NET that changes them fails here, by name.
/// </summary>
public class CatalogEnvironmentTests
{
    [Fact]
    public void Every_catalog_the_library_extends_gives_the_environment_of_its_own_MLContext()
    {
        var mlContext = new MLContext(seed: 3);
        var messages = new List<string>();
        mlContext.Log += (_, e) => { lock (messages) messages.Add(e.Message); };

        foreach (var catalog in new object[] { mlContext.Transforms, mlContext.Model, mlContext.MulticlassClassification.Trainers })
        {
            var environment = CatalogEnvironment.Of(catalog);
            Assert.Same(mlContext.ComponentCatalog, environment.ComponentCatalog);
            using var channel = environment.Register("CatalogEnvironmentTests").Start(catalog.GetType().Name);
            channel.Info(MessageSensitivity.None, $"from {catalog.GetType().Name}");
        }

        Assert.Contains(messages, m => m.Contains("from TransformsCatalog", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("from ModelOperationsCatalog", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("from MulticlassClassificationTrainers", StringComparison.Ordinal));
    }

    [Fact]
    public void The_transforms_catalog_made_from_an_environment_belongs_to_its_MLContext()
    {
        var mlContext = new MLContext(seed: 3);
        var environment = CatalogEnvironment.Of(mlContext.MulticlassClassification.Trainers);

        var transforms = CatalogEnvironment.TransformsOf(environment);

        Assert.Same(environment, CatalogEnvironment.Of(transforms));
    }

    [Fact]
    public void The_GPU_settings_are_those_of_the_MLContext()
    {
        var plain = new MLContext();
        var gpu = new MLContext { GpuDeviceId = 3, FallbackToCpu = true };

        Assert.Equal((null, false), CatalogEnvironment.GpuSettingsOf(CatalogEnvironment.Of(plain.Transforms)));
        Assert.Equal((3, true), CatalogEnvironment.GpuSettingsOf(CatalogEnvironment.Of(gpu.Model)));
    }

    [Fact]
    public void An_object_that_is_not_an_ML_NET_catalog_is_refused_by_name()
    {
        var error = Assert.Throws<InvalidOperationException>(() => CatalogEnvironment.Of("not a catalog"));
        Assert.Contains("IInternalCatalog on String", error.Message);
    }
}
