using EfficientViT.ML.MLNet;

// Like ML.NET's own extension catalogs, in Microsoft.ML: `using Microsoft.ML;` is all a user writes.
namespace Microsoft.ML;

/// <summary>ML.NET trainer catalog methods for EfficientViT.</summary>
public static class EfficientVitClassifierCatalog
{
    /// <summary>
    /// Trains (or fine-tunes) an EfficientViT image classifier. The fitted model adds <c>Score</c> (class
    /// probabilities) and <c>PredictedLabel</c> (a key like the label), so
    /// <c>MulticlassClassification.Evaluate</c> works unchanged, and it saves to and loads from an ML.NET
    /// model zip, scoring with ONNX Runtime. Training progress goes to the <c>MLContext</c>'s <c>Log</c>
    /// event (each epoch as an Info message, each step as Trace) and to <see cref="EfficientVitClassifierOptions.Progress"/>.
    /// </summary>
    /// <param name="catalog">The multiclass trainers (<c>mlContext.MulticlassClassification.Trainers</c>).</param>
    /// <param name="labelColumnName">A key column (from <c>MapValueToKey</c>).</param>
    /// <param name="imageColumnName">An image column (from <c>LoadImages</c>).</param>
    /// <param name="options">Everything else; null for the defaults.</param>
    /// <example>
    /// <code>
    /// var pipeline = mlContext.Transforms.LoadImages("Image", folder, "ImagePath")
    ///     .Append(mlContext.Transforms.Conversion.MapValueToKey("Label"))
    ///     .Append(mlContext.MulticlassClassification.Trainers.EfficientVit("Label", "Image",
    ///         new EfficientVitClassifierOptions { ModelPath = "efficientvit_m0.pth", Epochs = 5 }))
    ///     .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
    /// var model = pipeline.Fit(train);
    /// var metrics = mlContext.MulticlassClassification.Evaluate(model.Transform(test));
    /// </code>
    /// </example>
    public static EfficientVitClassifierTrainer EfficientVit(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string imageColumnName = "Image", EfficientVitClassifierOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        // The column names given here win over the options', on a copy: the caller's object is left as it was.
        var withColumns = options?.Copy() ?? new EfficientVitClassifierOptions();
        withColumns.LabelColumnName = labelColumnName;
        withColumns.ImageColumnName = imageColumnName;
        return catalog.EfficientVit(withColumns);
    }

    /// <summary>Trains (or fine-tunes) an EfficientViT image classifier with every option.</summary>
    /// <param name="catalog">The multiclass trainers (<c>mlContext.MulticlassClassification.Trainers</c>).</param>
    /// <param name="options">Columns, starting checkpoint and training settings.</param>
    public static EfficientVitClassifierTrainer EfficientVit(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, EfficientVitClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new EfficientVitClassifierTrainer(options, CatalogEnvironment.Of(catalog));
    }
}
