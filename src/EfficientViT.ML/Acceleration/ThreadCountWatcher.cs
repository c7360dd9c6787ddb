namespace EfficientViT.ML.Acceleration;

/// <summary>
/// Watches the training steps for the whole run and has the <see cref="ThreadCountTuner"/> compare the thread
/// counts again as soon as the chosen count's steps slow down markedly, instead of at the tuner's next scheduled
/// comparison, which may be hundreds of steps away. Two threads collapse when another process takes the second
/// core (OpenMP's spinning workers lose it, and every parallel region waits for them): steps 2–7 times slower,
/// measured on a 2-core machine, for as long as the other process runs.
/// </summary>
/// <remarks>
/// The pace is the median of the last <see cref="Recent"/> steps at the chosen count; a slowdown is a pace more than
/// <see cref="SlowdownFactor"/> times the best pace since the count was chosen. A median, because collapsed steps
/// come in bursts (measured beside a busy process: slow and normal steps mixed, so "several slow steps in a row"
/// was seldom seen, and a rolling reference soon took the slow pace for the normal one); the best pace since the
/// choice, because the reference must not drift with the slowdown it is to detect. One slow step (a page fault,
/// the first step of an epoch) moves no median, and step times jump by at most ±25% from noise, which moves a
/// median of eight steps by far less than the factor, so noise alone does not start comparisons.
/// A comparison started this way that keeps the count (the whole machine got slower, not the count's
/// fault) makes the watcher ignore slowdowns for a hold-off that doubles each time, from
/// <see cref="FirstHoldOff"/> to <see cref="MaxHoldOff"/> steps, so that a machine whose pace swings does not
/// spend its time comparing. Going back when the other process ends is the tuner's scheduled comparisons' work:
/// a count that got faster gives no sign of it while another count runs.
/// </remarks>
internal sealed class ThreadCountWatcher
{
    /// <summary>Steps at the chosen count whose median is the recent pace.</summary>
    public const int Recent = 8;

    /// <summary>How many times slower than the best pace since the choice the recent pace must be to start a comparison.</summary>
    public const double SlowdownFactor = 2;

    /// <summary>Steps during which slowdowns are ignored after the first comparison that a slowdown started in vain.</summary>
    public const int FirstHoldOff = 25;

    /// <summary>The longest hold-off.</summary>
    public const int MaxHoldOff = 800;

    private readonly ThreadCountTuner tuner;
    private readonly Queue<double> recent = new();
    private double bestPace = double.PositiveInfinity;
    private int holdOff = FirstHoldOff;
    private int heldOffSteps;
    private int? countBeforeWatchedComparison;

    /// <param name="candidates">The thread counts to choose from (see <see cref="ThreadCountTuner"/>).</param>
    public ThreadCountWatcher(IReadOnlyList<int> candidates) => tuner = new ThreadCountTuner(candidates);

    /// <summary>The thread count to set before the next step.</summary>
    public int ThreadsForNextStep => tuner.ThreadsForNextStep;

    /// <summary>The count the last comparison chose.</summary>
    public int Chosen => tuner.Chosen;

    /// <summary>Comparisons finished so far, scheduled or started by a slowdown.</summary>
    public int Comparisons => tuner.Comparisons;

    /// <summary>Comparisons a slowdown started.</summary>
    public int SlowdownComparisons { get; private set; }

    /// <summary>Records how long the step run at <see cref="ThreadsForNextStep"/> took.</summary>
    public void Report(TimeSpan duration)
    {
        var wasComparing = tuner.Comparing;
        var chosenBefore = tuner.Chosen;
        tuner.Report(duration);
        if (wasComparing)
        {
            if (!tuner.Comparing)
                ComparisonEnded();
            return;
        }
        if (tuner.Comparing || tuner.Chosen != chosenBefore)
        {
            // The tuner's scheduled comparison starts with the next step; its steps are not the chosen count's pace.
            Forget();
            return;
        }
        Watch(duration.TotalSeconds);
    }

    /// <summary>
    /// Forgets the recent pace: the steps that follow do a different amount of work (another image side), so
    /// they are no slowdown.
    /// </summary>
    public void Forget()
    {
        recent.Clear();
        bestPace = double.PositiveInfinity;
    }

    private void Watch(double seconds)
    {
        if (heldOffSteps > 0)
            heldOffSteps--;
        recent.Enqueue(seconds);
        if (recent.Count > Recent)
            recent.Dequeue();
        if (recent.Count < Recent)
            return;
        var pace = ThreadCountTuner.Median(recent);
        bestPace = Math.Min(bestPace, pace);
        if (pace <= SlowdownFactor * bestPace || heldOffSteps > 0)
            return;
        countBeforeWatchedComparison = tuner.Chosen;
        SlowdownComparisons++;
        tuner.CompareNow();
        Forget();
    }

    private void ComparisonEnded()
    {
        // The chosen count's steps in the comparison are its pace since the choice: a slowdown that starts just
        // after a comparison is measured against them, not against the slow steps that follow.
        Forget();
        bestPace = tuner.ChosenPace;
        if (countBeforeWatchedComparison is not { } before)
            return;
        countBeforeWatchedComparison = null;
        if (tuner.Chosen == before)
        {
            heldOffSteps = holdOff;
            holdOff = Math.Min(MaxHoldOff, holdOff * 2);
        }
        else
        {
            holdOff = FirstHoldOff;
        }
    }
}
