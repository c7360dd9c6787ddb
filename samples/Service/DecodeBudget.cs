namespace EfficientViT.Service;

/// <summary>
/// The memory the service lets decoded pixels take at once. A request takes its image's share before decoding
/// and gives it back when its answer is ready; a request that does not fit waits, first come first served, at
/// most a given time. One 4096×4096 upload of a few KB decodes to hundreds of MB, so without a budget a burst of
/// them takes as much memory as it has requests.
/// </summary>
public sealed class DecodeBudget
{
    private readonly object gate = new();
    private readonly LinkedList<Waiter> waiting = new();
    private long used;
    private bool largeSinceEmpty;

    /// <param name="capacityBytes">The most bytes in use at once.</param>
    public DecodeBudget(long capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, 1);
        CapacityBytes = capacityBytes;
    }

    /// <summary>The most bytes in use at once.</summary>
    public long CapacityBytes { get; }

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
                return used;
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
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is more than the whole budget.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> was cancelled while waiting.</exception>
    public async Task<IDisposable?> TakeAsync(long bytes, TimeSpan maxWait, CancellationToken cancellation)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, CapacityBytes);
        Waiter waiter;
        LinkedListNode<Waiter> node;
        lock (gate)
        {
            largeSinceEmpty |= bytes >= LargeShareBytes;
            if (waiting.Count == 0 && used + bytes <= CapacityBytes)
            {
                used += bytes;
                return new Share(this, bytes);
            }
            waiter = new Waiter(bytes);
            node = waiting.AddLast(waiter);
        }
        try
        {
            await waiter.Granted.Task.WaitAsync(maxWait, cancellation).ConfigureAwait(false);
            return new Share(this, bytes);
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
                Give(bytes);
                throw;
            }
            return new Share(this, bytes);
        }
    }

    private void Give(long bytes)
    {
        bool empty;
        lock (gate)
        {
            used -= bytes;
            GrantWaiting();
            empty = used == 0 && waiting.Count == 0 && largeSinceEmpty;
            if (empty)
                largeSinceEmpty = false;
        }
        if (empty)
            Emptied?.Invoke();
    }

    // In order of arrival: a large request is not passed over for ever by smaller ones behind it.
    private void GrantWaiting()
    {
        while (waiting.First is { } first && used + first.Value.Bytes <= CapacityBytes)
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

    private sealed class Share(DecodeBudget budget, long bytes) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
                budget.Give(bytes);
        }
    }
}
