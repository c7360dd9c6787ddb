using EfficientViT.ML.MLNet;

// Like ML.NET's own extension catalogs, in Microsoft.ML: `using Microsoft.ML;` is all a user writes.
namespace Microsoft.ML;

/// <summary>ML.NET catalog methods for EfficientViT.</summary>
public static class EfficientVitCatalog
{
    /// <summary>
    /// Featurizes images with EfficientViT: each image becomes the pooled last-stage feature vector
    /// (192 floats for M0/M1, 224 for M2, 320 for M3, 384 for M4/M5), ready for any ML.NET trainer.
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="outputColumnName">The float-vector column to create.</param>
    /// <param name="inputColumnName">An image column (from <c>LoadImages</c>) or preprocessed pixels (3·S·S floats).</param>
    /// <param name="modelPath">An official <c>.pth</c>, a timm <c>.safetensors</c>, a checkpoint of this library, or a pretrained name (<c>m0</c> … <c>m5</c>, see <see cref="EfficientViT.ML.Checkpoints.Pretrained.EfficientVitPretrained"/>).</param>
    /// <example>
    /// <code>
    /// var mlContext = new MLContext(seed: 0);
    /// var data = mlContext.Data.LoadFromEnumerable(images);   // ImagePath, Label
    /// var pipeline = mlContext.Transforms.LoadImages("Image", imageFolder, "ImagePath")
    ///     .Append(mlContext.Transforms.EfficientVitFeaturize("Features", "Image", "efficientvit_m0.pth"))
    ///     .Append(mlContext.Transforms.Conversion.MapValueToKey("Label"))
    ///     .Append(mlContext.MulticlassClassification.Trainers.LbfgsMaximumEntropy())
    ///     .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
    /// var model = pipeline.Fit(data);
    /// var metrics = mlContext.MulticlassClassification.Evaluate(model.Transform(test));
    /// mlContext.Model.Save(model, data.Schema, "model.zip");
    /// </code>
    /// </example>
    public static EfficientVitFeaturizerEstimator EfficientVitFeaturize(this TransformsCatalog catalog, string outputColumnName, string inputColumnName, string modelPath) =>
        catalog.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, ModelPath = modelPath });

    /// <summary>Featurizes images with EfficientViT, with every option (in-memory model, preprocessing, batch size, threads).</summary>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="options">What to featurize with and how.</param>
    public static EfficientVitFeaturizerEstimator EfficientVitFeaturize(this TransformsCatalog catalog, EfficientVitFeaturizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new EfficientVitFeaturizerEstimator(catalog, options);
    }
}
