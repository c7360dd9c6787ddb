using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Data;

/// <summary>
/// Serves a data set as batches of tensors, epoch by epoch. The order of an epoch depends only on
/// (seed, epoch), and each sample's augmentation only on (seed, epoch, position in that order), so a run is
/// reproducible whatever the number of workers and can be resumed mid-epoch by skipping batches.
/// Samples are decoded and transformed on background threads a few batches ahead; the tensors are made on
/// the consumer's thread as each batch is yielded, so they join the consumer's dispose scope if it has one.
/// </summary>
public sealed class ImageBatchLoader : IDisposable
{
    private readonly CancellationTokenSource disposed = new();

    /// <summary>Creates a loader; nothing is loaded until an epoch is enumerated.</summary>
    /// <param name="dataset">The samples.</param>
    /// <param name="transform">Turns each sample into a 3×S×S float image.</param>
    /// <param name="batchSize">Samples per batch.</param>
    /// <param name="shuffle">A new random order every epoch (training), or the data set's order (evaluation).</param>
    /// <param name="seed">Determines the orders and the augmentations.</param>
    /// <param name="workers">Background threads decoding and transforming samples; null for <see cref="Environment.ProcessorCount"/>.</param>
    /// <param name="dropLast">Leave out the last batch of an epoch when it is smaller than <paramref name="batchSize"/>.</param>
    public ImageBatchLoader(IImageDataset dataset, ImageTransform transform, int batchSize, bool shuffle, int seed, int? workers = null, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(transform);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var workerCount = workers ?? Environment.ProcessorCount;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(workerCount, nameof(workers));
        // A batch is copied into its tensor through one span, which cannot exceed 2 GB.
        if ((long)batchSize * transform.OutputLength * sizeof(float) > int.MaxValue)
            throw new ArgumentException($"a batch of {batchSize} images of 3x{transform.ImageSize}x{transform.ImageSize} floats exceeds 2 GB; use smaller batches.", nameof(batchSize));
        Dataset = dataset;
        Transform = transform;
        BatchSize = batchSize;
        Shuffle = shuffle;
        Seed = seed;
        Workers = workerCount;
        DropLast = dropLast;
    }

    /// <summary>The samples.</summary>
    public IImageDataset Dataset { get; }

    /// <summary>The per-sample transform.</summary>
    public ImageTransform Transform { get; }

    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch has its own random order.</summary>
    public bool Shuffle { get; }

    /// <summary>The seed of orders and augmentations.</summary>
    public int Seed { get; }

    /// <summary>The number of background threads.</summary>
    public int Workers { get; }

    /// <summary>Whether a last, smaller batch is left out.</summary>
    public bool DropLast { get; }

    /// <summary>How many batches are loaded ahead of the one the consumer waits for (default 2).</summary>
    public int PrefetchBatches
    {
        get;
        init => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(PrefetchBatches), value, "must not be negative");
    } = 2;

    /// <summary>The number of batches in every epoch.</summary>
    public int BatchesPerEpoch => DropLast ? Dataset.Count / BatchSize : (Dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>
    /// The data set indices in the order epoch <paramref name="epoch"/> visits them: a permutation from
    /// <c>new Random(seed · 1,000,003 + epoch)</c> when shuffling, 0, 1, 2, … otherwise.
    /// </summary>
    public int[] EpochOrder(int epoch)
    {
        var order = new int[Dataset.Count];
        for (var i = 0; i < order.Length; i++)
            order[i] = i;
        if (Shuffle)
            new Random(SampleSeeds.ForEpoch(Seed, epoch)).ShuffleInPlace(order);
        return order;
    }

    /// <summary>
    /// The batches of one epoch, in order. Loading starts when enumeration starts and stops when it ends (or is
    /// abandoned). Each batch belongs to the caller, who should dispose it (or let a dispose scope do it).
    /// </summary>
    /// <param name="epoch">The epoch number; with the seed it fixes the order and the augmentations.</param>
    /// <param name="skipBatches">
    /// Batches to leave out at the start, for resuming: they are neither decoded nor transformed, and the
    /// batches that follow are identical to those of a full enumeration.
    /// </param>
    /// <exception cref="InvalidOperationException">(During enumeration) a sample could not be loaded or transformed; the message names its source.</exception>
    public IEnumerable<ImageBatch> Epoch(int epoch, int skipBatches = 0)
    {
        ObjectDisposedException.ThrowIf(disposed.IsCancellationRequested, this);
        if (skipBatches < 0 || skipBatches > BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(skipBatches), skipBatches, $"an epoch has {BatchesPerEpoch} batches");
        return Batches(epoch, skipBatches);
    }

    /// <summary>Stops the background work of any epoch being enumerated; later enumeration steps throw.</summary>
    public void Dispose()
    {
        if (disposed.IsCancellationRequested)
            return;
        disposed.Cancel();
        // The source is not disposed: running prefetchers hold tokens linked to it until they stop.
    }

    private IEnumerable<ImageBatch> Batches(int epoch, int skipBatches)
    {
        if (skipBatches == BatchesPerEpoch)
            yield break;
        using var prefetcher = new BatchPrefetcher(Dataset, Transform, EpochOrder(epoch), BatchSize, BatchesPerEpoch,
            Seed, epoch, skipBatches, Workers, PrefetchBatches, disposed.Token);
        for (var b = skipBatches; b < BatchesPerEpoch; b++)
        {
            BatchPrefetcher.Job job;
            try
            {
                job = prefetcher.Next();
            }
            catch (OperationCanceledException) when (disposed.IsCancellationRequested)
            {
                throw new ObjectDisposedException(nameof(ImageBatchLoader), "the loader was disposed while an epoch was being read");
            }
            var batch = ToTensors(job);
            prefetcher.Release(job);
            yield return batch;
        }
    }

    /// <summary>Copies a finished job into new tensors, on the calling (consumer's) thread.</summary>
    private ImageBatch ToTensors(BatchPrefetcher.Job job)
    {
        var count = job.Indices.Length;
        var size = Transform.ImageSize;
        var images = empty([count, 3, size, size], ScalarType.Float32);
        try
        {
            // One block copy into the tensor's own (native) memory; the buffer is then reused for a later batch.
            MemoryMarshal.AsBytes(job.Images.AsSpan(0, count * Transform.OutputLength)).CopyTo(images.bytes);
            var labels = tensor(job.Labels, [count], ScalarType.Int64);
            return new ImageBatch(job.BatchIndex, job.Indices, images, labels);
        }
        catch
        {
            images.Dispose();
            throw;
        }
    }
}
