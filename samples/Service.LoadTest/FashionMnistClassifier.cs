using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.IO;
using EfficientViT.ML.MLNet;
using EfficientViT.ML.Preprocessing;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace EfficientViT.Service.LoadTest;

/// <summary>
/// A small Fashion-MNIST classifier made in seconds from files on this machine: the official M0 checkpoint
/// (a repository fixture) run at 64×64 with Fashion-MNIST's preprocessing, then <c>LbfgsMaximumEntropy</c>
/// fitted on a few test-set images per class. The pipeline is the demo's (<c>efficientvit demo</c>), so its
/// zip loads and scores like the demo's; its accuracy is not the point.
/// </summary>
public static class FashionMnistClassifier
{
    /// <summary>The checkpoint copied beside the program.</summary>
    public static string CheckpointPath => Path.Combine(AppContext.BaseDirectory, "Fixtures", "efficientvit_m0.pth");

    /// <summary>Fits the classifier on the first <paramref name="perClass"/> images of each class in <paramref name="data"/> and saves it to <paramref name="zipPath"/>.</summary>
    /// <returns>The fitted model (its featurizer scores Transform's rows in batches) and its context.</returns>
    public static (MLContext Context, ITransformer Model) FitAndSave(FashionMnistDataset data, string zipPath, int perClass = 4)
    {
        var mlContext = new MLContext(seed: 0);
        var indices = Enumerable.Range(0, data.Count).GroupBy(data.LabelOf).OrderBy(g => g.Key).SelectMany(g => g.Take(perClass)).ToArray();
        var rows = mlContext.Data.LoadFromEnumerable(indices.Select(i => new LabelledImage { Image = data.Get(i).ToMLImage(), Label = data.ClassNames[data.LabelOf(i)] }).ToArray());
        var pipeline = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions
            {
                ModelPath = CheckpointPath,
                Preprocessing = ImagePreprocessing.FashionMnist(64),
            })
            .Append(mlContext.Transforms.DropColumns("Image"))
            .Append(mlContext.Transforms.Conversion.MapValueToKey("Label"))
            .Append(mlContext.MulticlassClassification.Trainers.LbfgsMaximumEntropy())
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var model = pipeline.Fit(rows);
        // As the demo saves it: an in-memory image column cannot be recorded as the input schema.
        AtomicFile.Write(zipPath, stream => mlContext.Model.Save(model, null, stream));
        return (mlContext, model);
    }

    private sealed class LabelledImage
    {
        [ImageType(28, 28)]
        public MLImage? Image { get; set; }

        public string Label { get; set; } = "";
    }
}
