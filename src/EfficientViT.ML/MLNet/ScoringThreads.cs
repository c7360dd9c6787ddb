using System.Collections.Concurrent;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Threads that live as long as the featurizer and score queued batches in order. A thread kept from one
/// batch to the next keeps ONNX Runtime's per-thread buffers (a new thread per batch was 5–10% slower),
/// and these threads do not wait behind work queued on a busy thread pool.
/// </summary>
internal sealed class ScoringThreads : TaskScheduler, IDisposable
{
    private readonly BlockingCollection<Task> queue = new();
    private readonly Thread[] threads;
    private volatile bool disposed;

    public ScoringThreads(int count)
    {
        threads = Enumerable.Range(0, count)
            .Select(i => new Thread(Work) { IsBackground = true, Name = $"EfficientViT scoring {i + 1}" })
            .ToArray();
        foreach (var thread in threads)
            thread.Start();
    }

    /// <inheritdoc/>
    public override int MaximumConcurrencyLevel => threads.Length;

    /// <summary>Starts <paramref name="work"/> on one of these threads; after <see cref="Dispose"/>, throws the featurizer's <see cref="ObjectDisposedException"/>.</summary>
    public Task Run(Action work)
    {
        // A cursor can outlive its featurizer; without this, it would report the queue's own error.
        if (disposed)
            throw EfficientVitFeaturizerTransformer.DisposedError();
        try
        {
            return Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.None, this);
        }
        catch (TaskSchedulerException) when (disposed)
        {
            throw EfficientVitFeaturizerTransformer.DisposedError();
        }
    }

    private void Work()
    {
        foreach (var task in queue.GetConsumingEnumerable())
            TryExecuteTask(task);
    }

    /// <inheritdoc/>
    protected override void QueueTask(Task task) => queue.Add(task);

    // Only these threads score: a caller waiting on a batch must not run it itself.
    /// <inheritdoc/>
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    /// <inheritdoc/>
    protected override IEnumerable<Task> GetScheduledTasks() => queue.ToArray();

    /// <summary>Lets queued batches finish, then ends the threads.</summary>
    public void Dispose()
    {
        disposed = true;
        queue.CompleteAdding();
        foreach (var thread in threads)
            thread.Join();
        queue.Dispose();
    }
}
