using System.Diagnostics;
using Microsoft.ML.Data;

namespace EfficientViT.Service;

/// <summary>
/// What one image costs on a <c>PredictionEngine</c> and in a <c>Transform</c> of several, measured on the
/// model at start-up: a <c>Transform</c> pays a fixed price per call (ML.NET builds the chain's data views
/// and cursors), which a batch of N images shares. Small models on small images may never earn it back.
/// </summary>
public static class ScoringCost
{
    private const int ProbeSide = 224;
    private const int Rounds = 3;
    private const int ImagesAlone = 4;
    // A batch must save this share of the engine's cost per image to pay for gathering it (waiting for company,
    // answering all its requests at once). Measured: the demo's M0 at 64x64, whose Transform of 4 cost 0.88 of an
    // engine call per image on one thread, served 25% fewer requests batched than on engines under 8 clients.
    private const double RequiredSaving = 0.2;

    /// <summary>
    /// The fewest images for which one <c>Transform</c> costs at least a fifth less per image than a <c>PredictionEngine</c>
    /// call each, among 2, 4, 8, ... up to <paramref name="maxBatchSize"/>; <paramref name="maxBatchSize"/> + 1 when none does.
    /// </summary>
    public static int SmallestWorthwhileBatch(ImageClassifier classifier, int maxBatchSize)
    {
        // Not disposed: disposing a PredictionEngine disposes the model it was made from.
        var engine = classifier.CreateEngine();
        var perImageAlone = Best(ImagesAlone, images =>
        {
            foreach (var image in images)
                engine.Predict(new ImageInput { Image = image });
        });
        foreach (var size in BatchSizes(maxBatchSize))
        {
            if (Best(size, images => classifier.ScoreBatch(images)) <= (1 - RequiredSaving) * perImageAlone)
                return size;
        }
        return maxBatchSize + 1;
    }

    // 2, 4, 8, ... below the largest batch, then the largest batch.
    private static IEnumerable<int> BatchSizes(int maxBatchSize)
    {
        for (var size = 2; size < maxBatchSize; size *= 2)
            yield return size;
        if (maxBatchSize >= 2)
            yield return maxBatchSize;
    }

    // The best time per image over a few rounds of scoring `count` fresh random images (a Transform disposes
    // the images it read), after one round that is not counted.
    private static double Best(int count, Action<IReadOnlyList<MLImage>> score)
    {
        var random = new Random(7);
        var best = double.MaxValue;
        for (var round = 0; round <= Rounds; round++)
        {
            var images = Enumerable.Range(0, count).Select(_ => RandomImage(random)).ToArray();
            try
            {
                var watch = Stopwatch.StartNew();
                score(images);
                if (round > 0)
                    best = Math.Min(best, watch.Elapsed.TotalMilliseconds / images.Length);
            }
            finally
            {
                foreach (var image in images)
                    image.Dispose();
            }
        }
        return best;
    }

    private static MLImage RandomImage(Random random)
    {
        var pixels = new byte[ProbeSide * ProbeSide * 4];
        random.NextBytes(pixels);
        return MLImage.CreateFromPixels(ProbeSide, ProbeSide, MLPixelFormat.Bgra32, pixels);
    }
}
