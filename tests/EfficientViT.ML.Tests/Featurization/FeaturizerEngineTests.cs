using EfficientViT.ML.Featurization;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Tests.Modeling;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.Featurization;

public class FeaturizerEngineTests
{
    [Fact]
    public void TorchSharp_and_onnx_runtime_engines_give_the_same_features()
    {
        using var dir = new TempDirectory();
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 3, size: 50, seed: 13);
        using var model = EfficientVit.Create(EfficientVitVariant.M0, numClasses: 5);
        RandomWeights.Apply(model);
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(rows);

        List<float[]> Featurize(FeaturizerEngine engine)
        {
            var pipeline = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath))
                .Append(mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { InputColumnName = "Image", Model = model, Engine = engine, BatchSize = 4 }));
            return pipeline.Fit(data).Transform(data).GetColumn<float[]>("Features").ToList();
        }

        var onnx = Featurize(FeaturizerEngine.OnnxRuntime);
        var torch = Featurize(FeaturizerEngine.TorchSharp);

        Assert.Equal(rows.Count, torch.Count);
        for (var i = 0; i < rows.Count; i++)
            Assert.True(onnx[i].Zip(torch[i], (a, b) => Math.Abs(a - b)).Max() <= 1e-4f, $"row {i}");
    }
}
