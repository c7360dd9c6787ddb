namespace EfficientViT.ML.Acceleration;

/// <summary>
/// Chooses the intra-op thread count of training steps by timing them: a few steps at each candidate
/// count, then the fastest for a stretch of steps, then another comparison, since the machine's load
/// changes. On a small model a second thread can make a step slower (tiny operations whose barriers cost
/// more than they share, or a core busy with other work), and this finds it out rather than assume.
/// </summary>
/// <remarks>
/// The tuner only decides; the caller sets the count it names before each step (<see cref="ThreadsForNextStep"/>)
/// and reports how long the step took (<see cref="Report"/>). The first step at a count after a change is
/// not counted (it may pay for waking threads). A candidate whose step, that first one included, takes more
/// than twice the best median so far is dropped from that comparison at once, so a count that collapses
/// (OpenMP threads spinning on cores that other processes hold) costs one step per comparison when
/// compared after a faster one.
/// Each comparison that keeps the same choice doubles the stretch before the next, up to <see cref="MaxStretch"/>.
/// A comparison moves away from the current choice only when another count is faster by more than
/// <see cref="SwitchMargin"/>: counts whose speeds differ by less than the steps' noise do not take turns.
/// <see cref="ThreadCountWatcher"/> starts a comparison early when the chosen count's steps slow down.
/// </remarks>
internal sealed class ThreadCountTuner
{
    /// <summary>Timed steps per candidate in a comparison.</summary>
    public const int StepsPerCandidate = 3;

    /// <summary>Steps at the chosen count before the first new comparison.</summary>
    public const int FirstStretch = 50;

    /// <summary>The longest stretch between comparisons.</summary>
    public const int MaxStretch = 800;

    /// <summary>How much faster (median step time) another count must be for a comparison to leave the current choice.</summary>
    public const double SwitchMargin = 0.1;

    private readonly int[] candidates;
    private readonly List<double>[] times;
    private int probing; // index of the candidate being timed, or -1 while exploiting
    private bool warmedUp;
    private int stretch = FirstStretch;
    private int stepsLeftInStretch;
    private double bestMedian = double.PositiveInfinity;

    /// <param name="candidates">The thread counts to choose from (at least one, each positive).</param>
    public ThreadCountTuner(IReadOnlyList<int> candidates)
    {
        if (candidates.Count == 0 || candidates.Any(count => count < 1))
            throw new ArgumentException($"Thread counts must be positive and at least one given; found [{string.Join(", ", candidates)}].", nameof(candidates));
        this.candidates = candidates.Distinct().ToArray();
        times = this.candidates.Select(_ => new List<double>()).ToArray();
        Chosen = this.candidates[0];
        probing = this.candidates.Length > 1 ? 0 : -1;
    }

    /// <summary>The count the last comparison chose (the first candidate before any).</summary>
    public int Chosen { get; private set; }

    /// <summary>Comparisons finished so far.</summary>
    public int Comparisons { get; private set; }

    /// <summary>The median step time of <see cref="Chosen"/> in the last comparison, in seconds; infinity before the first.</summary>
    public double ChosenPace { get; private set; } = double.PositiveInfinity;

    /// <summary>Whether a comparison is under way (its steps run at the candidates in turn).</summary>
    public bool Comparing => probing >= 0;

    /// <summary>The thread count to set before the next step.</summary>
    public int ThreadsForNextStep => probing >= 0 ? candidates[probing] : Chosen;

    /// <summary>Records how long the step run at <see cref="ThreadsForNextStep"/> took.</summary>
    public void Report(TimeSpan duration)
    {
        if (candidates.Length == 1)
            return;
        if (probing < 0)
        {
            if (--stepsLeftInStretch <= 0)
                StartComparison();
            return;
        }
        var seconds = duration.TotalSeconds;
        var list = times[probing];
        // Far slower than the best candidate so far, even in the step that may pay for waking threads: no
        // need to see more of it.
        if (seconds > 2 * bestMedian)
        {
            list.Clear();
            NextCandidate();
            return;
        }
        if (!warmedUp)
        {
            warmedUp = true;
            return;
        }
        list.Add(seconds);
        if (list.Count < StepsPerCandidate)
            return;
        bestMedian = Math.Min(bestMedian, Median(list));
        NextCandidate();
    }

    private void NextCandidate()
    {
        warmedUp = false;
        if (++probing < candidates.Length)
            return;
        var medians = times.Select(list => list.Count == 0 ? double.PositiveInfinity : Median(list)).ToArray();
        var best = Array.IndexOf(medians, medians.Min());
        var previous = Chosen;
        var current = Array.IndexOf(candidates, previous);
        if (Comparisons == 0 || medians[best] < (1 - SwitchMargin) * medians[current])
            Chosen = candidates[best];
        ChosenPace = medians[Array.IndexOf(candidates, Chosen)];
        Comparisons++;
        stretch = Comparisons > 1 && Chosen == previous ? Math.Min(MaxStretch, stretch * 2) : FirstStretch;
        stepsLeftInStretch = stretch;
        probing = -1;
    }

    /// <summary>Starts a comparison with the next step, unless one is under way.</summary>
    public void CompareNow()
    {
        if (candidates.Length > 1 && !Comparing)
            StartComparison();
    }

    private void StartComparison()
    {
        foreach (var list in times)
            list.Clear();
        bestMedian = double.PositiveInfinity;
        warmedUp = false;
        probing = 0;
    }

    /// <summary>The median of <paramref name="values"/> (at least one).</summary>
    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
