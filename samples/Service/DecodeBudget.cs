namespace EfficientViT.Service;

/// <summary>
/// The memory the service lets decoded pixels take at once. A request takes its image's share before decoding
/// and gives it back when its answer is ready; a request that does not fit waits, first come first served, at
/// most a given time. One 4096×4096 upload of a few KB decodes to hundreds of MB, so without a budget a burst of
/// them takes as much memory as it has requests.
/// </summary>
/// <remarks>
/// A lane set apart for small images keeps them from queueing behind large ones: a small image (at most a
/// sixteenth of the lane) takes its share from the lane at once while the lane has room, and joins the queue only
/// when it has none. Large images share the rest of the budget in order of arrival.
/// </remarks>
public sealed class DecodeBudget
{
    private readonly object gate = new();
    private readonly LinkedList<Waiter> waiting = new();
    private readonly long laneBytes;
    private long used;
    private long laneUsed;
    private bool largeSinceEmpty;

    /// <param name="capacityBytes">The most bytes in use at once.</param>
    /// <param name="smallImageLaneBytes">The part of the budget only small images take, first; 0 for none.</param>
    public DecodeBudget(long capacityBytes, long smallImageLaneBytes = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(smallImageLaneBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(smallImageLaneBytes, capacityBytes);
        CapacityBytes = capacityBytes;
        laneBytes = smallImageLaneBytes;
    }

    /// <summary>
    /// The service's lane for small images in a budget of this capacity: a sixteenth, so that up to 256 of them
    /// (512×512 each in the default 1 GB) decode at once beside the large ones.
    /// </summary>
    public static long ServiceLaneBytes(long capacityBytes) => capacityBytes / 16;

    /// <summary>The largest share one request can take from the service's budget of this capacity.</summary>
    public static long LargestServiceShareBytes(long capacityBytes) => capacityBytes - ServiceLaneBytes(capacityBytes);

    /// <summary>The most bytes in use at once.</summary>
    public long CapacityBytes { get; }

    /// <summary>The largest share one request can take: the budget less the small images' lane.</summary>
    public long LargestShareBytes => CapacityBytes - laneBytes;

    /// <summary>The largest share that counts as a small image's and may take the lane.</summary>
    public long SmallShareBytes => laneBytes / 16;

    /// <summary>
    /// Called when the last share is given back and nobody waits, if a share of at least 32 MB (a 2048×2048 image)
    /// was taken since the budget was last empty: a burst of large images is over.
    /// </summary>
    public Action? Emptied { get; init; }

    private const long LargeShareBytes = 32 << 20;

    /// <summary>The bytes taken now.</summary>
    public long UsedBytes
    {
        get
        {
            lock (gate)
                return used + laneUsed;
        }
    }

    /// <summary>Requests waiting for their share now.</summary>
    public int Waiting
    {
        get
        {
            lock (gate)
                return waiting.Count;
        }
    }

    /// <summary>
    /// Takes <paramref name="bytes"/> of the budget, waiting at most <paramref name="maxWait"/> behind the
    /// requests that came first; null when they did not become free in time.
    /// </summary>
    /// <returns>The share, given back when disposed; or null.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is more than <see cref="LargestShareBytes"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> was cancelled while waiting.</exception>
    public async Task<IDisposable?> TakeAsync(long bytes, TimeSpan maxWait, CancellationToken cancellation)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, LargestShareBytes);
        Waiter waiter;
        LinkedListNode<Waiter> node;
        lock (gate)
        {
            largeSinceEmpty |= bytes >= LargeShareBytes;
            if (bytes <= SmallShareBytes && laneUsed + bytes <= laneBytes)
            {
                laneUsed += bytes;
                return new Share(this, bytes, inLane: true);
            }
            if (waiting.Count == 0 && used + bytes <= LargestShareBytes)
            {
                used += bytes;
                return new Share(this, bytes, inLane: false);
            }
            waiter = new Waiter(bytes);
            node = waiting.AddLast(waiter);
        }
        try
        {
            await waiter.Granted.Task.WaitAsync(maxWait, cancellation).ConfigureAwait(false);
            return new Share(this, bytes, inLane: false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            lock (gate)
            {
                if (!waiter.Granted.Task.IsCompleted)
                {
                    waiting.Remove(node);
                    // The first in line may have been holding back smaller requests behind it.
                    GrantWaiting();
                    if (e is OperationCanceledException)
                        throw;
                    return null;
                }
            }
            // Granted just as the wait ended: the share is this request's after all.
            if (e is OperationCanceledException)
            {
                Give(bytes, inLane: false);
                throw;
            }
            return new Share(this, bytes, inLane: false);
        }
    }

    private void Give(long bytes, bool inLane)
    {
        bool empty;
        lock (gate)
        {
            if (inLane)
                laneUsed -= bytes;
            else
                used -= bytes;
            GrantWaiting();
            empty = used + laneUsed == 0 && waiting.Count == 0 && largeSinceEmpty;
            if (empty)
                largeSinceEmpty = false;
        }
        if (empty)
            Emptied?.Invoke();
    }

    // In order of arrival: a large request is not passed over for ever by smaller ones behind it.
    private void GrantWaiting()
    {
        while (waiting.First is { } first && used + first.Value.Bytes <= LargestShareBytes)
        {
            used += first.Value.Bytes;
            waiting.RemoveFirst();
            first.Value.Granted.TrySetResult();
        }
    }

    private sealed class Waiter(long bytes)
    {
        public long Bytes => bytes;

        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Share(DecodeBudget budget, long bytes, bool inLane) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
                budget.Give(bytes, inLane);
        }
    }
}
