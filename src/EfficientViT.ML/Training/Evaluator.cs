using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>Accuracy and loss of a model on a labelled data set.</summary>
public static class Evaluator
{
    /// <summary>Runs the model in eval mode over <paramref name="data"/>; returns the metrics and the mean cross-entropy.</summary>
    public static (ClassificationMetrics Metrics, double Loss) Evaluate(EfficientVit model, IImageDataset data, ImageTransform transform, int batchSize, int? workers = null, CancellationToken cancellationToken = default)
    {
        if (model.Config.NumClasses != data.ClassNames.Count)
            throw new ArgumentException($"The model has {model.Config.NumClasses} classes; the data has {data.ClassNames.Count} ({string.Join(", ", data.ClassNames.Take(10))}).");
        var wasTraining = model.training;
        model.eval();
        try
        {
            var metrics = new ClassificationMetrics(model.Config.NumClasses);
            var lossSum = 0.0;
            using var loader = new ImageBatchLoader(data, transform, batchSize, shuffle: false, seed: 0, workers);
            foreach (var batch in loader.Epoch(0))
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                using var owned = batch;
                var logits = model.forward(batch.Images);
                lossSum += nn.functional.cross_entropy(logits, batch.Labels, reduction: nn.Reduction.Sum).item<float>();
                metrics.Add(logits, batch.Labels);
            }
            return (metrics, metrics.Count == 0 ? double.NaN : lossSum / metrics.Count);
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
