using EfficientViT.ML.Acceleration;

namespace EfficientViT.ML.Tests.Acceleration;

/// <summary>The watcher's decisions, fed simulated step times (no clock involved).</summary>
public class ThreadCountWatcherTests
{
    // Runs `steps` steps; secondsAt(step, threads) is the simulated time of a step. Returns the count each step ran at.
    private static int[] Run(ThreadCountWatcher watcher, int steps, Func<int, int, double> secondsAt)
    {
        var counts = new int[steps];
        for (var step = 0; step < steps; step++)
        {
            counts[step] = watcher.ThreadsForNextStep;
            watcher.Report(TimeSpan.FromSeconds(secondsAt(step, counts[step])));
        }
        return counts;
    }

    // Idle: two threads 0.4 s a step, one 0.6 s. Loaded (another process busy on the second core): two threads
    // collapse to 2 s, one slows a little, to 0.65 s.
    private static double Machine(int threads, bool loaded) => threads == 2 ? (loaded ? 2.0 : 0.4) : loaded ? 0.65 : 0.6;

    private static int FirstStepFrom(int[] counts, int from, int threads) => Array.FindIndex(counts, from, count => count == threads);

    [Fact]
    public void It_switches_to_one_thread_soon_after_two_collapse_and_back_when_the_load_ends()
    {
        const int loadStart = 700, loadEnd = 2000;
        var watcher = new ThreadCountWatcher([1, 2]);
        var counts = Run(watcher, 4000, (step, threads) => Machine(threads, step is >= loadStart and < loadEnd));

        Assert.Equal(2, counts[loadStart - 1]);
        // Five slow steps make the median of eight slow, then a comparison of a few steps at each count: one
        // thread runs from the 12th loaded step on at the latest, where the tuner's own next comparison was 200 or
        // more steps away.
        var switched = FirstStepFrom(counts, loadStart, 1);
        Assert.InRange(switched - loadStart, 4, 12);
        var stayedOnOne = counts.Skip(switched + 8).Take(loadEnd - switched - 8).Count(count => count == 1) / (double)(loadEnd - switched - 8);
        Assert.True(stayedOnOne > 0.98, $"only {stayedOnOne:P1} of the loaded steps ran at one thread");
        // Back at two threads by the tuner's next comparison after the load ends (at most its longest stretch away).
        var back = Array.FindIndex(counts, loadEnd, count => count == 2);
        Assert.InRange(back - loadEnd, 0, 800 + 8);
        Assert.Equal(2, watcher.Chosen);
        // Then at two threads but for the tuner's scheduled comparisons (four steps at one thread, 100 or more steps apart).
        var after = counts.Skip(back + 8).ToArray();
        Assert.True(after.Count(count => count == 2) > 0.95 * after.Length, $"{after.Count(count => count == 1)} of the last {after.Length} steps ran at one thread");
        Assert.Equal(1, watcher.SlowdownComparisons);
    }

    [Fact]
    public void Collapsed_steps_that_come_in_bursts_among_normal_ones_are_noticed_as_well()
    {
        const int loadStart = 700;
        var random = new Random(3);
        var watcher = new ThreadCountWatcher([1, 2]);
        // As measured beside a busy process: most two-thread steps collapse, but normal ones come between them,
        // so there are seldom four slow steps in a row; over many steps two threads run at a third of one's pace.
        var counts = Run(watcher, 1500, (step, threads) =>
            step < loadStart ? Machine(threads, loaded: false) : threads == 1 ? 0.65 : random.NextDouble() < 0.6 ? 2.5 : 0.45);

        var switched = FirstStepFrom(counts, loadStart, 1);
        Assert.InRange(switched - loadStart, 0, 40);
        var loaded = counts.Skip(switched + 8).ToArray();
        Assert.True(loaded.Count(count => count == 1) > 0.9 * loaded.Length, $"only {loaded.Count(count => count == 1)} of {loaded.Length} loaded steps ran at one thread");
    }

    [Fact]
    public void A_load_that_starts_just_after_a_comparison_is_measured_against_the_comparison_s_pace()
    {
        var watcher = new ThreadCountWatcher([1, 2]);
        int? loadStart = null;
        var counts = new int[1500];
        for (var step = 0; step < counts.Length; step++)
        {
            // The load begins with the first step after the tuner's second comparison, which saw the idle machine:
            // every step the watcher sees after it is slow, so only the comparison knows the normal pace.
            if (loadStart is null && watcher.Comparisons == 2)
                loadStart = step;
            counts[step] = watcher.ThreadsForNextStep;
            watcher.Report(TimeSpan.FromSeconds(Machine(counts[step], loaded: loadStart is not null)));
        }

        Assert.NotNull(loadStart);
        var switched = FirstStepFrom(counts, loadStart.Value, 1);
        Assert.InRange(switched - loadStart.Value, 0, 20);
        Assert.Equal(1, watcher.Chosen);
    }

    [Fact]
    public void Noisy_steps_start_no_comparison_and_the_choice_does_not_flap()
    {
        var random = new Random(7);
        var watcher = new ThreadCountWatcher([1, 2]);
        // ±25% around each count's pace, step by step.
        var counts = Run(watcher, 6000, (_, threads) => Machine(threads, loaded: false) * (0.75 + 0.5 * random.NextDouble()));

        Assert.Equal(0, watcher.SlowdownComparisons);
        Assert.Equal(2, watcher.Chosen);
        // Outside the tuner's scheduled comparisons (a few steps each at 50, 100, 200, 400, 800... steps apart),
        // every step ran at two threads.
        Assert.True(counts.Count(count => count == 1) <= 4 * watcher.Comparisons, $"{counts.Count(count => count == 1)} steps at one thread in {watcher.Comparisons} comparisons");
    }

    [Fact]
    public void When_the_whole_machine_slows_and_speeds_up_again_and_again_the_comparisons_back_off()
    {
        var watcher = new ThreadCountWatcher([1, 2]);
        // Both counts three times slower every other 60 steps: no count's fault, so no count helps.
        Run(watcher, 8000, (step, threads) => Machine(threads, loaded: false) * (step / 60 % 2 == 1 ? 3 : 1));

        Assert.Equal(2, watcher.Chosen);
        // Without the hold-off each of the 66 slow spells would start one; with it, doubling from 25 to 800 steps,
        // about a dozen do.
        Assert.InRange(watcher.SlowdownComparisons, 2, 16);
    }

    [Fact]
    public void One_slow_step_is_no_slowdown()
    {
        var watcher = new ThreadCountWatcher([1, 2]);
        // Every 40th step pays for something else (the first step of an epoch, a page fault): five times slower.
        Run(watcher, 3000, (step, threads) => Machine(threads, loaded: false) * (step % 40 == 39 ? 5 : 1));

        Assert.Equal(0, watcher.SlowdownComparisons);
        Assert.Equal(2, watcher.Chosen);
    }
}
