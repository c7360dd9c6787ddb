using EfficientViT.ML.Data;
using EfficientViT.ML.MLNet;
using EfficientViT.ML.Tests.Training;
using Microsoft.ML;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>
/// The featurizer refuses an <c>MLImage</c> over the pixel limit of the library's own image reader, naming the column,
/// the image's size and the limit; here with the limit lowered, so that the images stay small.
/// </summary>
[Collection(TorchGlobalStateCollection.Name)]
public class OversizedImageTests
{
    [Fact]
    public void The_limit_is_the_image_readers_and_the_error_names_the_column_the_size_and_the_limit()
    {
        Assert.Equal(178_956_970, StraightAlphaDecoder.MaxPixels);
        Assert.Null(ImageSizeCheck.Problem("EfficientVitFeaturize", "Image", 89_478_485, 2, StraightAlphaDecoder.MaxPixels));
        Assert.NotNull(ImageSizeCheck.Problem("EfficientVitFeaturize", "Image", 89_478_486, 2, StraightAlphaDecoder.MaxPixels));
        Assert.Equal("EfficientVitFeaturize: column 'Image' holds a 20000x20000 image (400,000,000 pixels), more than the 178,956,970 accepted; " +
            "check image sizes before ML.NET's LoadImages, which decodes the whole image first.",
            ImageSizeCheck.Problem("EfficientVitFeaturize", "Image", 20_000, 20_000, StraightAlphaDecoder.MaxPixels));
    }

    [Fact]
    public void An_image_over_the_limit_is_refused_by_transform_and_by_a_prediction_engine()
    {
        using var model = SmallFeaturizer.Model(seed: 3);
        var mlContext = new MLContext(seed: 0);
        // 40x100 (4,000 pixels), 53x91 (4,823), 66x82 (5,412).
        var options = new EfficientVitFeaturizerOptions { Model = model, BatchSize = 2, MaxImagePixels = 5_000 };
        using var featurizer = mlContext.Transforms.EfficientVitFeaturize(options).Fit(mlContext.Data.LoadFromEnumerable(SmallFeaturizer.Images(2, seed: 1)));

        Assert.Equal(2, SmallFeaturizer.Features(featurizer, mlContext.Data.LoadFromEnumerable(SmallFeaturizer.Images(2, seed: 1))).Length);
        var transformError = Assert.ThrowsAny<Exception>(() => SmallFeaturizer.Features(featurizer, mlContext.Data.LoadFromEnumerable(SmallFeaturizer.Images(3, seed: 1))));
        using var engine = mlContext.Model.CreatePredictionEngine<SmallFeaturizer.ImageRow, SmallFeaturizer.FeatureRow>(featurizer);
        Assert.Equal(model.Config.FeatureDim, engine.Predict(SmallFeaturizer.Images(1, seed: 2)[0]).Features.Length);
        var engineError = Assert.ThrowsAny<Exception>(() => engine.Predict(SmallFeaturizer.Images(3, seed: 2)[2]));

        const string Refusal = "EfficientVitFeaturize: column 'Image' holds a 66x82 image (5,412 pixels), more than the 5,000 accepted;";
        Assert.Contains(TestFiles.Messages(transformError), m => m.Contains("row 2 (column 'Image')", StringComparison.Ordinal) && m.Contains(Refusal, StringComparison.Ordinal));
        Assert.Contains(TestFiles.Messages(engineError), m => m.StartsWith(Refusal, StringComparison.Ordinal));
    }
}
