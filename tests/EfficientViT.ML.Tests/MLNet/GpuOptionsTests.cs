using EfficientViT.ML.MLNet;
using EfficientViT.ML.Tests.Training;
using Microsoft.ML;
using static EfficientViT.ML.Tests.MLNet.SmallFeaturizer;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>
/// GpuDeviceId and FallbackToCpu on a machine without a GPU (and with the CPU build of ONNX Runtime): the fallback gives
/// the CPU's features exactly; without it, one error that names the device. GPU execution itself is not tested here.
/// </summary>
[Collection(TorchGlobalStateCollection.Name)]
public class GpuOptionsTests
{
    [Fact]
    public void With_fallback_a_device_that_cannot_be_used_gives_the_CPU_features_exactly()
    {
        using var model = Model(seed: 21);
        using var dir = new TempDirectory();
        var mlContext = new MLContext(seed: 0);
        // The MLContext's FallbackToCpu applies when the options leave it unset. (Its GpuDeviceId with the CPU build of
        // ONNX Runtime would stop ML.NET's own ONNX steps, which fall back only on an OnnxRuntimeException.)
        var fallbackContext = new MLContext(seed: 0) { FallbackToCpu = true };
        IDataView Data(MLContext context) => context.Data.LoadFromEnumerable(Images(5, seed: 4));

        using var cpu = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { Model = model, BatchSize = 2 }).Fit(Data(mlContext));
        using var byOptions = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { Model = model, BatchSize = 2, GpuDeviceId = 0, FallbackToCpu = true }).Fit(Data(mlContext));
        using var byContext = fallbackContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { Model = model, BatchSize = 2, GpuDeviceId = 0 }).Fit(Data(fallbackContext));
        var zip = Path.Combine(dir.Path, "featurizer.zip");
        mlContext.Model.Save(cpu, null, zip);
        using var loaded = (IDisposable)mlContext.Model.LoadWithBatchedScoring(zip, new BatchedScoringOptions { GpuDeviceId = 0, FallbackToCpu = true }, out _);
        var expected = Features(cpu, Data(mlContext));

        Assert.Equal(0f, MaxAbsDifference(expected, Features(byOptions, Data(mlContext))));
        Assert.Equal(0f, MaxAbsDifference(expected, Features(byContext, Data(fallbackContext))));
        Assert.Equal(0f, MaxAbsDifference(expected, Features((ITransformer)loaded, Data(mlContext))));
        using var engine = mlContext.Model.CreatePredictionEngine<SmallFeaturizer.ImageRow, FeatureRow>(byOptions);
        Assert.Equal(0f, MaxAbsDifference(expected, Images(5, seed: 4).Select(row => engine.Predict(row).Features).ToArray()));
    }

    [Fact]
    public void Without_fallback_a_device_that_cannot_be_used_is_one_clear_error_naming_it()
    {
        using var model = Model(seed: 22);
        using var dir = new TempDirectory();
        var mlContext = new MLContext(seed: 0);
        using var cpu = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { Model = model }).Fit(mlContext.Data.LoadFromEnumerable(Images(2, seed: 5)));
        var zip = Path.Combine(dir.Path, "featurizer.zip");
        mlContext.Model.Save(cpu, null, zip);

        var byOptions = Assert.Throws<InvalidOperationException>(() => mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { Model = model, GpuDeviceId = 1 }));
        var byContext = Assert.Throws<InvalidOperationException>(() => new MLContext { GpuDeviceId = 2 }.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { Model = model }));
        var loading = Assert.Throws<InvalidOperationException>(() => mlContext.Model.LoadWithBatchedScoring(zip, new BatchedScoringOptions { GpuDeviceId = 3, FallbackToCpu = false }, out _));

        Assert.Contains("GPU device 1", byOptions.Message);
        Assert.Contains("GPU device 2", byContext.Message);
        Assert.Contains("GPU device 3", loading.Message);
        Assert.Contains("Microsoft.ML.OnnxRuntime.Gpu", byOptions.Message);
    }
}
