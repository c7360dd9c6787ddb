namespace EfficientViT.ML.Training;

/// <summary>
/// A training run's time budget as the run goes: it measures the pace of the steps, validation passes and
/// checkpoints, plans after every step how many steps still fit (<see cref="TimeBudgetPlanner"/>), and gives the
/// learning rate and the EMA decay for that plan.
/// </summary>
/// <remarks>
/// <para>
/// The schedule is a function of the run's progress p, from 0 at the first step to 1 at the last: warm-up over
/// the recipe's share of the run, then the half cosine down to the minimum rate. Each step moves p a share of
/// what is left, <c>(1 − p) / (steps planned − steps done)</c>, so with a steady plan of N steps step s runs at
/// p = s / (N − 1), exactly <see cref="CosineSchedule"/>'s curve, and a new plan changes only how fast p moves
/// on, never p itself: the rate stays continuous through any number of plans, the warm-up included, and a
/// resumed run needs only p. Re-planning the rest of a cosine from the current rate would give every plan a
/// curve of its own, kinks where they join, and a warm-up that a plan made during it has to shorten or stretch.
/// </para>
/// <para>
/// Costs: a step's is the mean wall time of the last <see cref="PaceWindow"/> steps, data loading included (the
/// first step of each process start is left out while others are known: it pays for warming up); the first plan
/// is made after <see cref="StepsBeforePlanning"/> more steps, the run's full length standing until then. A validation
/// pass is estimated from the steps (<see cref="ValidationShareOfTrainingImage"/> of a training image's time per
/// validation image) until one is measured, a checkpoint as <see cref="FirstSaveSeconds"/>; then the last measured
/// ones count. A measured validation pass is kept as a multiple of the pace of the steps when it was measured, and
/// counts at the pace of now: a machine that was busy when validation was timed and is quiet later (or the other
/// way round) is slow or fast for both alike, and a reservation held for validations timed in a slow moment would
/// otherwise end a run minutes early. <see cref="Margin"/> of the budget is kept back for what the estimates miss.
/// </para>
/// </remarks>
internal sealed class TrainingTimeBudget
{
    /// <summary>Share of the budget the plans keep back.</summary>
    public const double Margin = 0.03;

    /// <summary>Steps whose mean is the pace.</summary>
    public const int PaceWindow = 32;

    /// <summary>
    /// A validation image's time as a share of a training image's, until a validation pass is measured: the
    /// forward pass alone, without gradients, takes about a third of a training step; the rest is data loading.
    /// </summary>
    public const double ValidationShareOfTrainingImage = 0.5;

    /// <summary>
    /// Steps measured (the first one left out) before a plan may end the run sooner than its recipe: the first
    /// step pays for warming up (3–10 times a later one on a shared 2-core machine), and the validation estimate
    /// grows with it.
    /// </summary>
    public const int StepsBeforePlanning = 5;

    /// <summary>A checkpoint's cost until one is measured.</summary>
    public const double FirstSaveSeconds = 2;

    private readonly TimeProvider clock;
    private readonly long startTimestamp;
    private readonly double spentBefore;
    private readonly long stepsPerEpoch;
    private readonly int batchSize;
    private readonly long maxSteps;
    private readonly int validationImages;
    private readonly bool saves;
    private readonly double warmupFraction;
    private readonly double validationPassesAfterTraining;
    private readonly Queue<double> stepSeconds = new();
    private double? firstStepSeconds;
    private double? knownSecondsPerStep;
    private double? validationSeconds;
    // The pace when validationSeconds was measured; null until a pace is known then.
    private double? validationPace;
    private double? saveSeconds;
    private long mark;

    /// <param name="budget">The whole run's budget (a resumed run keeps the one in <paramref name="resumed"/>).</param>
    /// <param name="clock">The clock the budget is spent on.</param>
    /// <param name="stepsPerEpoch">Optimizer steps per epoch.</param>
    /// <param name="batchSize">Images per step.</param>
    /// <param name="maxSteps">The most steps the run may take (its recipe's epochs, or a step limit).</param>
    /// <param name="validationImages">Images of a validation pass (0 without validation).</param>
    /// <param name="saves">Whether every epoch's end saves a checkpoint.</param>
    /// <param name="warmupFraction">The warm-up's share of the run, in [0, 1).</param>
    /// <param name="resumed">The plan of the run being resumed, or null for a new run.</param>
    /// <param name="stepsDone">Steps the run has done (a run started without a budget and resumed with one).</param>
    /// <param name="validationPassesAfterTraining">Work the budget also holds after training, in validation passes (see <see cref="TrainerOptions.ValidationPassesAfterTraining"/>).</param>
    public TrainingTimeBudget(TimeSpan budget, TimeProvider clock, long stepsPerEpoch, int batchSize, long maxSteps, int validationImages,
        bool saves, double warmupFraction, TimeBudgetPlan? resumed, long stepsDone = 0, double validationPassesAfterTraining = 0)
    {
        if (budget <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(budget), budget, "A time budget must be positive.");
        if (warmupFraction is < 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(warmupFraction), warmupFraction, "The warm-up's share must be in [0, 1).");
        this.clock = clock;
        this.stepsPerEpoch = stepsPerEpoch;
        this.batchSize = batchSize;
        this.maxSteps = maxSteps;
        this.validationImages = validationImages;
        this.saves = saves;
        this.warmupFraction = warmupFraction;
        this.validationPassesAfterTraining = validationPassesAfterTraining;
        BudgetSeconds = resumed?.BudgetSeconds ?? budget.TotalSeconds;
        spentBefore = resumed?.SpentSeconds ?? 0;
        // Until the first step is measured, the whole run: the progress barely moves during that step.
        PlannedSteps = resumed?.PlannedSteps ?? maxSteps;
        // A run begun without a budget continues from where its step stands on the schedule of its full length.
        Progress = resumed?.Progress ?? (maxSteps > 1 ? Math.Min(1.0, stepsDone / (maxSteps - 1.0)) : 0);
        if (resumed is not null)
            (knownSecondsPerStep, validationSeconds, validationPace, saveSeconds) = (resumed.SecondsPerStep, resumed.SecondsPerValidation, resumed.SecondsPerStep, resumed.SecondsPerSave);
        startTimestamp = clock.GetTimestamp();
        mark = startTimestamp;
    }

    /// <summary>The whole run's budget in seconds.</summary>
    public double BudgetSeconds { get; }

    /// <summary>Seconds the run has spent, its parts before a resume included.</summary>
    public double SpentSeconds => spentBefore + clock.GetElapsedTime(startTimestamp).TotalSeconds;

    /// <summary>The run's length in steps, as last planned.</summary>
    public long PlannedSteps { get; private set; }

    /// <summary>Where the next step is on the schedule: 0 at the first step, 1 at the last.</summary>
    public double Progress { get; private set; }

    /// <summary>The pace: seconds per step, data loading included.</summary>
    public double SecondsPerStep =>
        stepSeconds.Count > 0 ? stepSeconds.Average() : knownSecondsPerStep ?? firstStepSeconds ?? 0;

    // Whether the plans trust the pace: enough steps measured, or a pace kept from before a resume.
    private bool PaceKnown => stepSeconds.Count >= StepsBeforePlanning || knownSecondsPerStep is not null;

    /// <summary>The cost of a validation pass: measured, or estimated from the pace.</summary>
    public double SecondsPerValidation =>
        validationImages == 0 ? 0
        : validationSeconds is not { } measured ? validationImages * SecondsPerStep / batchSize * ValidationShareOfTrainingImage
        : validationPace is { } then && then > 0 && SecondsPerStep > 0 ? measured * SecondsPerStep / then
        : measured;

    /// <summary>The cost of a checkpoint: measured, or <see cref="FirstSaveSeconds"/>.</summary>
    public double SecondsPerSave => saves ? saveSeconds ?? FirstSaveSeconds : 0;

    /// <summary>The learning rate at the current <see cref="Progress"/>, on <paramref name="rates"/>' peak, floor and warm-up start.</summary>
    public double LearningRate(CosineSchedule rates)
    {
        if (Progress < warmupFraction)
            return rates.WarmupLearningRate + (rates.BaseLearningRate - rates.WarmupLearningRate) * Progress / warmupFraction;
        var decay = Math.Min(1.0, (Progress - warmupFraction) / (1 - warmupFraction));
        return rates.MinLearningRate + 0.5 * (rates.BaseLearningRate - rates.MinLearningRate) * (1 + Math.Cos(Math.PI * decay));
    }

    /// <summary>
    /// The EMA decay of a run of <see cref="PlannedSteps"/> whose averaging horizon (1 / (1 − decay) steps) is the
    /// same share of the run as <paramref name="recipeDecay"/>'s is of <paramref name="recipeSteps"/>.
    /// </summary>
    public double EmaDecay(double recipeDecay, long recipeSteps)
    {
        var horizonShare = 1 / (1 - recipeDecay) / recipeSteps;
        return 1 - 1 / Math.Max(1.0, horizonShare * PlannedSteps);
    }

    /// <summary>Starts timing steps anew: the next step's time is counted from now (after a validation, a save, at an epoch's start).</summary>
    public void StartSteps() => mark = clock.GetTimestamp();

    /// <summary>Counts a step just done, plans the run again and moves the progress on.</summary>
    /// <param name="stepsDone">Steps done in the run, this one included.</param>
    /// <param name="batchesDoneInEpoch">Steps done in the current epoch, this one included.</param>
    public void StepDone(long stepsDone, long batchesDoneInEpoch)
    {
        var now = clock.GetTimestamp();
        var seconds = clock.GetElapsedTime(mark, now).TotalSeconds;
        mark = now;
        if (firstStepSeconds is null)
        {
            firstStepSeconds = seconds;
        }
        else
        {
            stepSeconds.Enqueue(seconds);
            if (stepSeconds.Count > PaceWindow)
                stepSeconds.Dequeue();
        }
        // A validation timed before any step (ProbeValidation) is tied to the first pace the plans trust.
        if (validationSeconds is not null && validationPace is null && PaceKnown)
            validationPace = SecondsPerStep;
        Plan(stepsDone, batchesDoneInEpoch);
        var left = PlannedSteps - stepsDone;
        Progress = left <= 0 ? 1 : Progress + (1 - Progress) / left;
    }

    /// <summary>Whether a validation pass's cost is known (measured, or kept from before a resume).</summary>
    public bool ValidationCostKnown => validationImages == 0 || validationSeconds is not null;

    /// <summary>
    /// Estimates a validation pass's cost from slices of it, before any is run: <paramref name="validateFirst"/>
    /// images are validated once untimed (warming up), then <paramref name="validateFirst"/> and
    /// <paramref name="validateMore"/> images, timed; the difference is the cost of the extra images, the rest the
    /// fixed cost of a pass. A run whose budget buys less than an epoch would otherwise end on a guess.
    /// </summary>
    public void ProbeValidation(int validateFirst, int validateMore, Action<int> validate)
    {
        validate(validateFirst);
        double Timed(int images)
        {
            var start = clock.GetTimestamp();
            validate(images);
            return clock.GetElapsedTime(start).TotalSeconds;
        }
        var few = Timed(validateFirst);
        var more = Timed(validateMore);
        var perImage = Math.Max(0, more - few) / (validateMore - validateFirst);
        validationSeconds = Math.Max(0, few - perImage * validateFirst) + perImage * validationImages;
        validationPace = null;
    }

    /// <summary>Runs a validation pass and keeps its time as the cost of the next ones.</summary>
    public T TimeValidation<T>(Func<T> validate)
    {
        var start = clock.GetTimestamp();
        var result = validate();
        validationSeconds = clock.GetElapsedTime(start).TotalSeconds;
        validationPace = PaceKnown ? SecondsPerStep : null;
        return result;
    }

    /// <summary>Saves a checkpoint and keeps its time as the cost of the next ones.</summary>
    public void TimeSave(Action save)
    {
        var start = clock.GetTimestamp();
        save();
        saveSeconds = clock.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>The plan as it stands, for the run folder and the result.</summary>
    public TimeBudgetPlan Plan() => new()
    {
        BudgetSeconds = BudgetSeconds,
        SpentSeconds = SpentSeconds,
        PlannedSteps = PlannedSteps,
        PlannedEpochs = (double)PlannedSteps / stepsPerEpoch,
        PlannedImages = PlannedSteps * batchSize,
        Progress = Progress,
        SecondsPerStep = SecondsPerStep,
        SecondsPerValidation = SecondsPerValidation,
        SecondsPerSave = SecondsPerSave,
    };

    private void Plan(long stepsDone, long batchesDoneInEpoch)
    {
        if (!PaceKnown)
            return;
        var available = BudgetSeconds * (1 - Margin) - SpentSeconds - validationPassesAfterTraining * SecondsPerValidation;
        PlannedSteps = TimeBudgetPlanner.PlanTotalSteps(Math.Max(0, available), stepsDone, batchesDoneInEpoch, stepsPerEpoch, maxSteps,
            Math.Max(SecondsPerStep, 1e-9), SecondsPerValidation + SecondsPerSave);
    }
}
