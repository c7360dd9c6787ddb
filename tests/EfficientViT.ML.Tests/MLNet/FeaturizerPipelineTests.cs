using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace EfficientViT.ML.Tests.MLNet;

public class FeaturizerPipelineTests
{
    private static readonly string CheckpointPath = TestFiles.OfficialM0("efficientvit_m0.pth");

    // LoadImages -> EfficientVitFeaturize -> MapValueToKey -> LbfgsMaximumEntropy -> MapKeyToValue.
    private static TransformerChain<KeyToValueMappingTransformer> FitClassifier(MLContext mlContext, IDataView trainData) =>
        mlContext.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageRow.ImagePath))
            .Append(mlContext.Transforms.EfficientVitFeaturize("Features", "Image", CheckpointPath))
            .Append(mlContext.Transforms.Conversion.MapValueToKey("Label"))
            .Append(mlContext.MulticlassClassification.Trainers.LbfgsMaximumEntropy())
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(trainData);

    [Fact]
    public void Pipeline_fits_evaluates_saves_and_predicts_the_same_in_a_fresh_process()
    {
        using var dir = new TempDirectory();
        // Sixteen training images per class: with eight, the head's test accuracy (11 of 12 with AVX-512, 10 of 12 with
        // AVX2 only) hung on the last digits of the features; with sixteen it is 12 of 12 on both, log-loss 0.035.
        var train = TestImages.WriteColorImages(dir.Path, perClass: 16, size: 48, seed: 1);
        var test = TestImages.WriteColorImages(dir.Path, perClass: 4, size: 64, seed: 2);
        var mlContext = new MLContext(seed: 0);
        var trainData = mlContext.Data.LoadFromEnumerable(train);
        var testData = mlContext.Data.LoadFromEnumerable(test);

        var model = FitClassifier(mlContext, trainData);

        var scored = model.Transform(testData);
        var metrics = mlContext.MulticlassClassification.Evaluate(scored);
        Assert.True(metrics.MicroAccuracy >= 0.9, $"micro accuracy {metrics.MicroAccuracy}");

        var modelPath = Path.Combine(dir.Path, "model.zip");
        mlContext.Model.Save(model, trainData.Schema, modelPath);

        var labels = scored.GetColumn<string>("PredictedLabel").ToList();
        var features = scored.GetColumn<float[]>("Features").ToList();
        Assert.Equal(192, features[0].Length);
        var fresh = TestImages.RunInFreshProcess(modelPath, test.Select(r => r.ImagePath), dir.Path);

        Assert.Equal(labels, fresh.Select(f => f.Label));
        var maxDiff = features.Zip(fresh, (a, b) => a.Zip(b.Features, (x, y) => Math.Abs(x - y)).Max()).Max();
        Assert.True(maxDiff <= 1e-6, $"features differ by {maxDiff} after loading in a fresh process");
    }

    [Fact]
    public void A_head_saved_on_its_own_behind_a_featurizer_fitted_again_predicts_like_the_whole_saved_model()
    {
        using var dir = new TempDirectory();
        var train = TestImages.WriteColorImages(dir.Path, perClass: 6, size: 48, seed: 3);
        var test = TestImages.WriteColorImages(dir.Path, perClass: 3, size: 56, seed: 4);
        var mlContext = new MLContext(seed: 0);
        var trainData = mlContext.Data.LoadFromEnumerable(train);
        var testData = mlContext.Data.LoadFromEnumerable(test);
        var model = FitClassifier(mlContext, trainData);
        var wholePath = Path.Combine(dir.Path, "whole.zip");
        var headPath = Path.Combine(dir.Path, "head.zip");
        mlContext.Model.Save(model, trainData.Schema, wholePath);
        mlContext.Model.Save(new TransformerChain<ITransformer>(model.Skip(2).ToArray()), null, headPath);

        var serving = new MLContext();
        var whole = serving.Model.Load(wholePath, out _).Transform(testData);
        var images = serving.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(ImageRow.ImagePath))
            .Append(serving.Transforms.EfficientVitFeaturize("Features", "Image", CheckpointPath))
            .Fit(testData);
        var split = serving.Model.Load(headPath, out _).Transform(images.Transform(testData));

        Assert.Equal(whole.GetColumn<string>("PredictedLabel"), split.GetColumn<string>("PredictedLabel"));
        var maxDiff = whole.GetColumn<float[]>("Score").Zip(split.GetColumn<float[]>("Score"), (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max();
        Assert.True(maxDiff <= 1e-5, $"scores differ by {maxDiff}");
    }
}
