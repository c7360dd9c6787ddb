using System.Collections.Concurrent;

namespace EfficientViT.ML.Data;

/// <summary>
/// Loads the batches of one epoch on background threads, a few batches ahead of the consumer. Each sample
/// is a separate work item, written into its fixed slot of its batch's buffer with its own seeded
/// <see cref="Random"/>, so the result does not depend on how many threads there are or which finishes first.
/// The consumer takes batches strictly in order. Only the consumer's thread calls <see cref="Next"/>,
/// <see cref="Release"/> and <see cref="Dispose"/>.
/// </summary>
internal sealed class BatchPrefetcher : IDisposable
{
    private readonly IImageDataset dataset;
    private readonly ImageTransform transform;
    private readonly int[] order;
    private readonly int batchSize;
    private readonly int batchCount;
    private readonly int seed;
    private readonly int epoch;
    private readonly BlockingCollection<(Job Job, int Slot)> work = new();
    private readonly CancellationTokenSource stop;
    private readonly Thread[] threads;
    private readonly Queue<Job> inFlight = new();
    private readonly Stack<float[]> freeBuffers = new();
    private int nextBatch;

    /// <summary>Starts the worker threads and queues the first batches.</summary>
    /// <param name="dataset">Where samples come from.</param>
    /// <param name="transform">Applied to each sample.</param>
    /// <param name="order">The epoch's order of data set indices.</param>
    /// <param name="batchSize">Samples per batch (the last batch may have fewer).</param>
    /// <param name="batchCount">Batches in the epoch.</param>
    /// <param name="seed">The loader's seed.</param>
    /// <param name="epoch">The epoch number (for the per-sample seeds and messages).</param>
    /// <param name="firstBatch">The first batch to load; earlier ones are never touched.</param>
    /// <param name="workers">Background threads.</param>
    /// <param name="prefetch">Batches queued beyond the one the consumer waits for.</param>
    /// <param name="cancel">Stops the workers (the loader's disposal).</param>
    public BatchPrefetcher(IImageDataset dataset, ImageTransform transform, int[] order, int batchSize, int batchCount,
        int seed, int epoch, int firstBatch, int workers, int prefetch, CancellationToken cancel)
    {
        this.dataset = dataset;
        this.transform = transform;
        this.order = order;
        this.batchSize = batchSize;
        this.batchCount = batchCount;
        this.seed = seed;
        this.epoch = epoch;
        nextBatch = firstBatch;
        stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        threads = new Thread[workers];
        for (var i = 0; i < workers; i++)
        {
            // Dedicated threads rather than thread-pool tasks: they block for long stretches and must not
            // starve, or be starved by, other thread-pool work in the process.
            threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"ImageBatchLoader worker {i}" };
            threads[i].Start();
        }
        for (var i = 0; i <= prefetch; i++)
            ScheduleNext();
    }

    /// <summary>Waits for the next batch in order. Throws the first (lowest-slot) failure of that batch.</summary>
    /// <exception cref="InvalidOperationException">A sample failed; the message names it and the inner exception is the cause.</exception>
    /// <exception cref="OperationCanceledException">The loader was disposed.</exception>
    public Job Next()
    {
        var job = inFlight.Dequeue();
        // Queue one more before waiting, so the workers stay busy while the consumer uses this batch.
        ScheduleNext();
        job.Done.Wait(stop.Token);
        if (job.Failure is { } failure)
        {
            var what = failure.Source is null ? $"data set index {job.Indices[failure.Slot]}" : $"'{failure.Source}' (data set index {job.Indices[failure.Slot]})";
            throw new InvalidOperationException(
                $"Loading sample {what} for batch {job.BatchIndex} of epoch {epoch} failed: {failure.Error.Message}", failure.Error);
        }
        return job;
    }

    /// <summary>Gives a consumed batch's buffer back for reuse.</summary>
    public void Release(Job job)
    {
        freeBuffers.Push(job.Images);
        job.Done.Dispose();
    }

    /// <summary>Stops the workers (a sample being processed is finished first) and waits for them.</summary>
    public void Dispose()
    {
        stop.Cancel();
        work.CompleteAdding();
        foreach (var thread in threads)
            thread.Join();
        foreach (var job in inFlight)
            job.Done.Dispose();
        work.Dispose();
        stop.Dispose();
    }

    private void ScheduleNext()
    {
        if (nextBatch >= batchCount)
            return;
        var first = nextBatch * batchSize;
        var count = Math.Min(batchSize, order.Length - first);
        var length = transform.OutputLength;
        // Buffers are sized for a full batch so that any of them fits any batch of the epoch.
        var images = freeBuffers.Count > 0 ? freeBuffers.Pop() : new float[batchSize * length];
        var job = new Job(nextBatch, first, order.AsSpan(first, count).ToArray(), images);
        inFlight.Enqueue(job);
        for (var slot = 0; slot < count; slot++)
            work.Add((job, slot));
        nextBatch++;
    }

    private void WorkerLoop()
    {
        try
        {
            foreach (var (job, slot) in work.GetConsumingEnumerable(stop.Token))
                Process(job, slot);
        }
        catch (OperationCanceledException)
        {
            // Disposal: the consumer no longer wants the remaining batches.
        }
    }

    private void Process(Job job, int slot)
    {
        string? source = null;
        try
        {
            var sample = dataset.Get(job.Indices[slot]);
            source = sample.Source;
            var position = job.FirstPosition + slot;
            var random = new Random(SampleSeeds.ForSample(seed, epoch, position));
            var length = transform.OutputLength;
            transform.Apply(sample, random, job.Images.AsSpan(slot * length, length));
            job.Labels[slot] = sample.Label;
        }
        catch (Exception e)
        {
            job.Fail(slot, e, source);
        }
        finally
        {
            if (Interlocked.Decrement(ref job.Remaining) == 0)
                job.Done.Set();
        }
    }

    /// <summary>One batch being loaded: its samples, output buffers and completion signal.</summary>
    internal sealed class Job
    {
        private readonly Lock failureLock = new();

        /// <summary>Creates the job of one batch.</summary>
        public Job(int batchIndex, int firstPosition, int[] indices, float[] images)
        {
            BatchIndex = batchIndex;
            FirstPosition = firstPosition;
            Indices = indices;
            Images = images;
            Labels = new long[indices.Length];
            Remaining = indices.Length;
        }

        /// <summary>The batch's number in the epoch.</summary>
        public int BatchIndex { get; }

        /// <summary>The position of the first sample in the epoch's order.</summary>
        public int FirstPosition { get; }

        /// <summary>The data set indices of the samples.</summary>
        public int[] Indices { get; }

        /// <summary>Transformed images, one <see cref="ImageTransform.OutputLength"/> slice per sample (possibly longer than needed).</summary>
        public float[] Images { get; }

        /// <summary>Labels, one per sample.</summary>
        public long[] Labels { get; }

        /// <summary>Samples not yet processed (changed with Interlocked).</summary>
        public int Remaining;

        /// <summary>Set when every sample has been processed.</summary>
        public ManualResetEventSlim Done { get; } = new(false);

        /// <summary>The failure of the lowest failed slot, if any; read only after <see cref="Done"/> is set.</summary>
        public (int Slot, Exception Error, string? Source)? Failure { get; private set; }

        /// <summary>Records a failure, keeping the lowest slot's so that the reported error does not depend on timing.</summary>
        public void Fail(int slot, Exception error, string? source)
        {
            lock (failureLock)
            {
                if (Failure is null || slot < Failure.Value.Slot)
                    Failure = (slot, error, source);
            }
        }
    }
}
