using Microsoft.ML.Data;

namespace EfficientViT.Service;

/// <summary>
/// Concurrent requests gathered into small batches, each scored by one <c>Transform</c> over an
/// <c>IDataView</c> of its images (see <see cref="MicroBatcher{TIn, TOut}"/>). It pays when the model
/// scores a batch in fewer, larger network calls than one per image. A request that finds no other
/// within the wait is scored alone on a pooled <c>PredictionEngine</c>, which costs less than a
/// <c>Transform</c> of one row.
/// </summary>
public sealed class BatchingScorer : IImageScorer, IAsyncDisposable
{
    /// <summary>The name given to <c>--scoring</c>.</summary>
    public const string ModeName = "batched";

    private readonly MicroBatcher<MLImage, float[]> batcher;
    private long batches;
    private long images;

    /// <param name="classifier">The model.</param>
    /// <param name="maxBatchSize">The most images in one Transform call.</param>
    /// <param name="maxWait">How long a short batch waits for more requests.</param>
    /// <param name="workers">How many batches are scored at once.</param>
    public BatchingScorer(ImageClassifier classifier, int maxBatchSize, TimeSpan maxWait, int workers)
    {
        var alone = new EnginePoolScorer(classifier, retained: workers);
        batcher = new MicroBatcher<MLImage, float[]>(
            images => images.Count == 1 ? [alone.Score(images[0])] : classifier.ScoreBatch(images),
            maxBatchSize, maxWait, workers)
        {
            BatchScored = size =>
            {
                Interlocked.Increment(ref batches);
                Interlocked.Add(ref images, size);
            },
        };
    }

    /// <inheritdoc/>
    public string Name => ModeName;

    /// <summary>Transform calls and the images they scored, so far.</summary>
    public (long Batches, long Images) Counts => (Interlocked.Read(ref batches), Interlocked.Read(ref images));

    /// <inheritdoc/>
    public Task<float[]> ScoreAsync(MLImage image) => batcher.ScoreAsync(image);

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => batcher.DisposeAsync();
}
