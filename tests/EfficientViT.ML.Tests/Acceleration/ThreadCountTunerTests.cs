using EfficientViT.ML.Tests.Training;
using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Training;

namespace EfficientViT.ML.Tests.Acceleration;

/// <summary>The tuner's decisions, fed made-up step times (no clock involved).</summary>
public class ThreadCountTunerTests
{
    // Runs steps until the tuner has finished `comparisons` comparisons; returns the counts the steps ran at.
    private static List<int> RunUntil(ThreadCountTuner tuner, int comparisons, Func<int, double> secondsAt)
    {
        var counts = new List<int>();
        while (tuner.Comparisons < comparisons)
        {
            var threads = tuner.ThreadsForNextStep;
            counts.Add(threads);
            tuner.Report(TimeSpan.FromSeconds(secondsAt(threads)));
            Assert.True(counts.Count < 10_000, "the comparison never ended");
        }
        return counts;
    }

    [Fact]
    public void It_chooses_the_count_whose_steps_are_faster()
    {
        var tuner = new ThreadCountTuner([2, 1]);
        var counts = RunUntil(tuner, 1, threads => threads == 2 ? 1.0 : 0.6);

        Assert.Equal(1, tuner.Chosen);
        // A warm-up step and three timed steps at each count.
        Assert.Equal(4, counts.Count(c => c == 2));
        Assert.Equal(4, counts.Count(c => c == 1));
        for (var i = 0; i < ThreadCountTuner.FirstStretch; i++)
        {
            Assert.Equal(1, tuner.ThreadsForNextStep);
            tuner.Report(TimeSpan.FromSeconds(0.6));
        }
    }

    [Fact]
    public void A_count_whose_steps_collapse_costs_one_step_per_comparison()
    {
        var tuner = new ThreadCountTuner([1, 2]);
        var counts = RunUntil(tuner, 3, threads => threads == 2 ? 20.0 : 0.5);

        Assert.Equal(1, tuner.Chosen);
        Assert.Equal(3, counts.Count(c => c == 2));
    }

    [Fact]
    public void A_change_of_load_is_followed_at_the_next_comparison()
    {
        var tuner = new ThreadCountTuner([2, 1]);
        RunUntil(tuner, 1, threads => threads == 2 ? 0.4 : 0.6);
        Assert.Equal(2, tuner.Chosen);

        // Other work now takes one core: the second thread makes steps slower.
        var counts = RunUntil(tuner, 2, threads => threads == 2 ? 0.9 : 0.6);
        Assert.Equal(1, tuner.Chosen);
        // The stretch at the old choice, then the comparison.
        Assert.Equal(ThreadCountTuner.FirstStretch + 8, counts.Count);
    }

    [Fact]
    public void The_stretch_between_comparisons_doubles_while_the_choice_stays_and_is_bounded()
    {
        var tuner = new ThreadCountTuner([2, 1]);
        RunUntil(tuner, 1, threads => threads == 2 ? 0.4 : 0.6);
        var lengths = new List<int>();
        for (var comparison = 2; comparison <= 8; comparison++)
            lengths.Add(RunUntil(tuner, comparison, threads => threads == 2 ? 0.4 : 0.6).Count - 8);

        Assert.Equal(2, tuner.Chosen);
        Assert.Equal([50, 100, 200, 400, 800, 800, 800], lengths);
    }

    [Theory]
    [InlineData(new int[0])]
    [InlineData(new[] { 2, 0 })]
    public void Bad_candidates_are_refused(int[] candidates)
    {
        var error = Assert.Throws<ArgumentException>(() => new ThreadCountTuner(candidates));
        Assert.Contains("Thread counts", error.Message);
    }

    [Fact]
    public void A_single_candidate_is_never_compared()
    {
        var tuner = new ThreadCountTuner([1]);
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(1, tuner.ThreadsForNextStep);
            tuner.Report(TimeSpan.FromSeconds(1));
        }
    }
}
