using System.Threading.Channels;

namespace EfficientViT.Service;

/// <summary>
/// Gathers items that arrive at about the same time into batches for one call of a batch function: a
/// worker takes what is queued and, while another batch is being scored (items are arriving concurrently),
/// waits at most <c>maxWait</c> for more while the batch is short of <c>maxBatchSize</c>, then scores it.
/// A lone item is scored at once. Several workers run at once, so a batch being scored does not hold the
/// next one back.
/// </summary>
/// <typeparam name="TIn">An item to score.</typeparam>
/// <typeparam name="TOut">Its result.</typeparam>
public sealed class MicroBatcher<TIn, TOut> : IAsyncDisposable
{
    private readonly Func<IReadOnlyList<TIn>, IReadOnlyList<TOut>> scoreBatch;
    private readonly int maxBatchSize;
    private readonly TimeSpan maxWait;
    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleWriter = false, SingleReader = false });
    private readonly Task[] workers;
    private int scoring;

    /// <param name="scoreBatch">Scores a batch; returns one result per item, in order.</param>
    /// <param name="maxBatchSize">The most items in one call.</param>
    /// <param name="maxWait">How long a worker holding a short batch waits for more items.</param>
    /// <param name="workers">How many batches may be scored at once.</param>
    public MicroBatcher(Func<IReadOnlyList<TIn>, IReadOnlyList<TOut>> scoreBatch, int maxBatchSize, TimeSpan maxWait, int workers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWait, TimeSpan.Zero);
        this.scoreBatch = scoreBatch;
        this.maxBatchSize = maxBatchSize;
        this.maxWait = maxWait;
        this.workers = Enumerable.Range(0, workers).Select(_ => Task.Run(WorkAsync)).ToArray();
    }

    /// <summary>Called after each batch with its size (for statistics).</summary>
    public Action<int>? BatchScored { get; init; }

    /// <summary>Queues <paramref name="item"/> and completes with its result, or with the error its batch raised.</summary>
    public Task<TOut> ScoreAsync(TIn item)
    {
        var pending = new Pending(item);
        if (!queue.Writer.TryWrite(pending))
            throw new ObjectDisposedException(nameof(MicroBatcher<TIn, TOut>), "the batcher is shut down");
        return pending.Result.Task;
    }

    private async Task WorkAsync()
    {
        var batch = new List<Pending>(maxBatchSize);
        while (await queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < maxBatchSize && queue.Reader.TryRead(out var first))
                batch.Add(first);
            if (batch.Count == 0)
                continue;
            if (batch.Count < maxBatchSize && maxWait > TimeSpan.Zero && Volatile.Read(ref scoring) > 0)
                await GatherMoreAsync(batch).ConfigureAwait(false);
            Interlocked.Increment(ref scoring);
            try
            {
                Score(batch);
            }
            finally
            {
                Interlocked.Decrement(ref scoring);
            }
        }
    }

    private async Task GatherMoreAsync(List<Pending> batch)
    {
        using var timeout = new CancellationTokenSource(maxWait);
        while (batch.Count < maxBatchSize)
        {
            if (queue.Reader.TryRead(out var next))
            {
                batch.Add(next);
                continue;
            }
            try
            {
                if (!await queue.Reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false))
                    return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // A failure fails every item of the batch: the items may not be scored again (the model's Transform
    // disposes the images it read).
    private void Score(List<Pending> batch)
    {
        try
        {
            var results = scoreBatch(batch.Select(p => p.Item).ToArray());
            if (results.Count != batch.Count)
                throw new InvalidOperationException($"the batch function returned {results.Count} results for {batch.Count} items");
            for (var i = 0; i < batch.Count; i++)
                batch[i].Result.TrySetResult(results[i]);
            BatchScored?.Invoke(batch.Count);
        }
        catch (Exception e)
        {
            foreach (var pending in batch)
                pending.Result.TrySetException(e);
        }
    }

    /// <summary>Lets the workers finish what is queued, then ends them.</summary>
    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    private sealed class Pending(TIn item)
    {
        public TIn Item => item;

        public TaskCompletionSource<TOut> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
