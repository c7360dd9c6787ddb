namespace EfficientViT.Service.Tests;

/// <summary>The decode budget: shares taken and given back, first come first served, and a bounded wait.</summary>
public class DecodeBudgetTests
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task Shares_fit_until_the_budget_is_taken_then_a_request_waiting_too_long_gets_none()
    {
        var budget = new DecodeBudget(100);
        using var first = await budget.TakeAsync(60, Long, default);
        using var second = await budget.TakeAsync(40, Long, default);
        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.Equal(100, budget.UsedBytes);
        Assert.Null(await budget.TakeAsync(1, TimeSpan.FromMilliseconds(20), default));
        Assert.Equal(0, budget.Waiting);
        Assert.Equal(100, budget.UsedBytes);
    }

    [Fact]
    public async Task A_waiting_request_gets_its_share_when_one_is_given_back()
    {
        var budget = new DecodeBudget(100);
        var first = await budget.TakeAsync(80, Long, default);
        var waiting = budget.TakeAsync(50, Long, default);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, budget.Waiting);
        first!.Dispose();
        using var share = await waiting;
        Assert.NotNull(share);
        Assert.Equal(50, budget.UsedBytes);
        // Giving a share back twice gives it back once.
        first.Dispose();
        Assert.Equal(50, budget.UsedBytes);
    }

    [Fact]
    public async Task Requests_are_served_in_order_of_arrival_so_that_a_large_one_is_not_passed_over()
    {
        var budget = new DecodeBudget(100);
        var held = await budget.TakeAsync(90, Long, default);
        var large = budget.TakeAsync(100, Long, default);
        var small = budget.TakeAsync(5, Long, default);
        // 5 bytes would fit now, but the large request came first.
        await Task.Delay(50);
        Assert.False(small.IsCompleted);
        held!.Dispose();
        var largeShare = await large;
        Assert.False(small.IsCompleted);
        largeShare!.Dispose();
        using var smallShare = await small;
        Assert.Equal(5, budget.UsedBytes);
    }

    [Fact]
    public async Task A_request_that_gives_up_lets_those_behind_it_through()
    {
        var budget = new DecodeBudget(100);
        using var held = await budget.TakeAsync(50, Long, default);
        var large = budget.TakeAsync(100, TimeSpan.FromMilliseconds(50), default);
        var small = budget.TakeAsync(20, Long, default);
        Assert.Null(await large);
        using var smallShare = await small;
        Assert.NotNull(smallShare);
        Assert.Equal(70, budget.UsedBytes);
    }

    [Fact]
    public async Task A_cancelled_wait_throws_and_leaves_the_budget_as_it_was()
    {
        var budget = new DecodeBudget(10);
        using var held = await budget.TakeAsync(10, Long, default);
        using var cancel = new CancellationTokenSource();
        var waiting = budget.TakeAsync(5, Long, cancel.Token);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, budget.Waiting);
        Assert.Equal(10, budget.UsedBytes);
    }

    [Fact]
    public async Task A_share_larger_than_the_budget_is_refused_at_once()
    {
        var budget = new DecodeBudget(10);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => budget.TakeAsync(11, Long, default));
    }

    [Fact]
    public async Task The_end_of_a_burst_of_large_shares_is_reported_once_and_small_ones_report_nothing()
    {
        var emptied = 0;
        var budget = new DecodeBudget(1L << 30) { Emptied = () => emptied++ };
        (await budget.TakeAsync(1 << 20, Long, default))!.Dispose();
        Assert.Equal(0, emptied);
        var large = await budget.TakeAsync(64 << 20, Long, default);
        var small = await budget.TakeAsync(1 << 20, Long, default);
        large!.Dispose();
        Assert.Equal(0, emptied);
        small!.Dispose();
        Assert.Equal(1, emptied);
        (await budget.TakeAsync(1 << 20, Long, default))!.Dispose();
        Assert.Equal(1, emptied);
    }

    [Fact]
    public async Task Small_shares_take_their_lane_at_once_though_large_ones_wait_and_join_the_queue_when_it_is_full()
    {
        // 32 bytes of 132 for small images; a small share is at most 2 bytes.
        var budget = new DecodeBudget(132, smallImageLaneBytes: 32);
        Assert.Equal(100, budget.LargestShareBytes);
        Assert.Equal(2, budget.SmallShareBytes);
        var held = await budget.TakeAsync(90, Long, default);
        var large = budget.TakeAsync(100, Long, default);

        var small = new List<IDisposable>();
        for (var i = 0; i < 16; i++)
            small.Add((await budget.TakeAsync(2, TimeSpan.Zero, default))!);
        Assert.Equal(122, budget.UsedBytes);
        // The lane is full: the next small share queues behind the large one, in order of arrival.
        var overflow = budget.TakeAsync(2, Long, default);
        Assert.Equal(2, budget.Waiting);
        // Three bytes are not a small share: they never take the lane.
        Assert.Null(await budget.TakeAsync(3, TimeSpan.FromMilliseconds(20), default));

        // Small shares given back free the lane, not the large image's part of the budget.
        small.ForEach(share => share.Dispose());
        Assert.False(large.IsCompleted);
        held!.Dispose();
        (await large)!.Dispose();
        (await overflow)!.Dispose();
        Assert.Equal(0, budget.UsedBytes);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => budget.TakeAsync(101, Long, default));
    }
}
