namespace EfficientViT.Service.Tests;

public class MicroBatcherTests
{
    [Fact]
    public async Task Every_item_gets_its_own_result_and_no_batch_is_larger_than_the_maximum()
    {
        var sizes = new System.Collections.Concurrent.ConcurrentBag<int>();
        await using var batcher = new MicroBatcher<int, string>(items =>
        {
            sizes.Add(items.Count);
            return items.Select(i => $"item {i}").ToArray();
        }, maxBatchSize: 4, maxWait: TimeSpan.FromMilliseconds(2), workers: 2);

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(() => batcher.ScoreAsync(i))));

        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"item {i}"), results);
        Assert.Equal(200, sizes.Sum());
        Assert.All(sizes, size => Assert.InRange(size, 1, 4));
    }

    [Fact]
    public async Task Items_queued_while_a_batch_is_scored_are_taken_together_up_to_the_maximum()
    {
        using var held = new FirstBatchHeld();
        await using var batcher = held.Batcher(maxBatchSize: 4, maxWait: TimeSpan.Zero, workers: 1);

        var first = batcher.ScoreAsync(0);
        held.WaitUntilScoring();
        var queued = Enumerable.Range(1, 9).Select(batcher.ScoreAsync).ToArray();
        held.Release();

        Assert.Equal(Enumerable.Range(0, 10), await Task.WhenAll(queued.Prepend(first)));
        Assert.Equal([1, 4, 4, 1], held.Sizes);
    }

    [Fact]
    public async Task A_failing_batch_fails_its_items_and_later_batches_are_scored()
    {
        await using var batcher = new MicroBatcher<int, int>(items =>
            items.Contains(-1) ? throw new InvalidOperationException("cannot score -1") : items.Select(i => i * 10).ToArray(),
            maxBatchSize: 8, maxWait: TimeSpan.Zero, workers: 1);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.ScoreAsync(-1));
        Assert.Equal("cannot score -1", error.Message);
        Assert.Equal(70, await batcher.ScoreAsync(7));
    }

    [Fact]
    public async Task A_batch_function_that_returns_too_few_results_fails_the_batch()
    {
        await using var batcher = new MicroBatcher<int, int>(_ => [], maxBatchSize: 8, maxWait: TimeSpan.Zero, workers: 1);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.ScoreAsync(1));
        Assert.Equal("the batch function returned 0 results for 1 items", error.Message);
    }

    [Fact]
    public async Task A_lone_item_is_scored_without_waiting_for_company()
    {
        // With nothing else being scored, the hour-long wait must not be taken.
        await using var batcher = new MicroBatcher<int, int>(items => items.ToArray(), maxBatchSize: 8, maxWait: TimeSpan.FromHours(1), workers: 1);
        Assert.Equal(5, await batcher.ScoreAsync(5).WaitAsync(TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public async Task Items_arriving_while_a_batch_is_scored_wait_for_company_up_to_the_maximum()
    {
        using var held = new FirstBatchHeld();
        await using var batcher = held.Batcher(maxBatchSize: 3, maxWait: TimeSpan.FromHours(1), workers: 2);

        var first = batcher.ScoreAsync(0);
        held.WaitUntilScoring();
        // The second worker takes these as they come and, the first batch being busy, waits until it has three.
        var others = Enumerable.Range(1, 3).Select(batcher.ScoreAsync).ToArray();
        Assert.Equal(new[] { 1, 2, 3 }, await Task.WhenAll(others).WaitAsync(TimeSpan.FromMinutes(1)));
        held.Release();
        Assert.Equal(0, await first);
        Assert.Equal([1, 3], held.Sizes);
    }

    /// <summary>A batch function that records batch sizes and holds the batch holding item 0 until released.</summary>
    private sealed class FirstBatchHeld : IDisposable
    {
        private readonly ManualResetEventSlim started = new();
        private readonly ManualResetEventSlim release = new();
        private readonly List<int> sizes = [];

        public List<int> Sizes
        {
            get
            {
                lock (sizes)
                    return [.. sizes];
            }
        }

        public MicroBatcher<int, int> Batcher(int maxBatchSize, TimeSpan maxWait, int workers) => new(items =>
        {
            lock (sizes)
                sizes.Add(items.Count);
            if (items.Contains(0))
            {
                started.Set();
                release.Wait();
            }
            return items.ToArray();
        }, maxBatchSize, maxWait, workers);

        public void WaitUntilScoring() => Assert.True(started.Wait(TimeSpan.FromMinutes(1)), "the first batch was not scored");

        public void Release() => release.Set();

        public void Dispose()
        {
            release.Set();
            started.Dispose();
            release.Dispose();
        }
    }
}
