using Microsoft.ML.Data;

namespace EfficientViT.Service;

/// <summary>
/// Concurrent requests gathered into small batches, each scored by one <c>Transform</c> over an
/// <c>IDataView</c> of its images (see <see cref="MicroBatcher{TIn, TOut}"/>). It pays when the model
/// scores a batch in fewer, larger network calls than one per image, and only past a batch size: a
/// <c>Transform</c> has a fixed cost per call. A batch smaller than that (down to a request that found
/// no other within the wait) is scored one image at a time on pooled <c>PredictionEngine</c>s.
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
    /// <param name="minBatchSize">The fewest images scored by one Transform (see <see cref="ScoringCost"/>).</param>
    public BatchingScorer(ImageClassifier classifier, int maxBatchSize, TimeSpan maxWait, int workers, int minBatchSize)
    {
        var alone = new EnginePoolScorer(classifier, retained: workers);
        MinBatchSize = Math.Max(2, minBatchSize);
        batcher = new MicroBatcher<MLImage, float[]>(
            images => images.Count < MinBatchSize ? images.Select(alone.Score).ToArray() : classifier.ScoreBatch(images),
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

    /// <summary>The fewest images scored by one Transform; smaller batches are scored one image per engine call.</summary>
    public int MinBatchSize { get; }

    /// <summary>Batches gathered and the images in them, so far (those below <see cref="MinBatchSize"/> were scored on engines).</summary>
    public (long Batches, long Images) Counts => (Interlocked.Read(ref batches), Interlocked.Read(ref images));

    /// <inheritdoc/>
    public Task<float[]> ScoreAsync(MLImage image) => batcher.ScoreAsync(image);

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => batcher.DisposeAsync();
}
