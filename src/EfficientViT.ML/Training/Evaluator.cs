using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>Accuracy and loss of a model on a labelled data set.</summary>
public static class Evaluator
{
    /// <summary>Runs the model in eval mode over <paramref name="data"/>; returns the metrics and the mean cross-entropy.</summary>
    /// <param name="model">The classifier.</param>
    /// <param name="data">Labelled images.</param>
    /// <param name="transform">The evaluation transform.</param>
    /// <param name="batchSize">Images per forward pass.</param>
    /// <param name="workers">Decoding threads; null: the loader's default.</param>
    /// <param name="flipAverage">
    /// Test-time augmentation: also score each image mirrored left to right and average the two softmax
    /// outputs (the usual evaluation of flip-trained models; twice the compute).
    /// </param>
    /// <param name="cancellationToken">Stops between batches.</param>
    public static (ClassificationMetrics Metrics, double Loss) Evaluate(EfficientVit model, IImageDataset data, ImageTransform transform, int batchSize,
        int? workers = null, bool flipAverage = false, CancellationToken cancellationToken = default)
    {
        if (model.Config.NumClasses != data.ClassNames.Count)
            throw new ArgumentException($"The model has {model.Config.NumClasses} classes; the data has {data.ClassNames.Count} ({string.Join(", ", data.ClassNames.Take(10))}).");
        var wasTraining = model.training;
        model.eval();
        // The same outputs as the model's own layers, faster (see FastLayers).
        using var fast = FastLayers.Install(model);
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
                if (flipAverage)
                {
                    // The log of the mean probability: its softmax is that mean, so the loss and the
                    // rankings below are those of the averaged prediction.
                    var mirrored = model.forward(batch.Images.flip(3));
                    logits = logits.softmax(1).Plus(mirrored.softmax(1)).DividedBy(2).log();
                }
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
