using EfficientViT.ML.Training;

namespace EfficientViT.ML.Tests.Training;

/// <summary>
/// The time budget's plans and schedule, driven by a loop shaped like the trainer's on a clock that moves by
/// the simulated costs of steps, validation passes and checkpoints.
/// </summary>
public class TrainingTimeBudgetTests
{
    private static readonly CosineSchedule Rates = new(baseLearningRate: 2e-3, minLearningRate: 5e-6, warmupLearningRate: 5e-7, warmupSteps: 0, totalSteps: 2);

    private sealed record Run(double Seconds, long Steps, int Epochs, List<double> LearningRates, TimeBudgetPlan Plan);

    // The trainer's loop: epochs of steps, each epoch ending with a validation pass and a checkpoint.
    private static Run Simulate(double budgetSeconds, long stepsPerEpoch, long maxSteps, Func<long, double> stepSeconds,
        double validationSeconds, double saveSeconds, double warmupFraction = 0.1, ManualClock? clock = null, TimeBudgetPlan? resumed = null,
        long stepsDone = 0, long? stopAfterStep = null)
    {
        clock ??= new ManualClock();
        var start = clock.Seconds;
        var budget = new TrainingTimeBudget(TimeSpan.FromSeconds(budgetSeconds), clock, stepsPerEpoch, batchSize: 128, maxSteps,
            validationImages: 10_000, saves: true, warmupFraction, resumed, stepsDone);
        var rates = new List<double>();
        var step = stepsDone;
        var epochs = 0;
        while (step < budget.PlannedSteps)
        {
            budget.StartSteps();
            var batch = step % stepsPerEpoch;
            while (batch < stepsPerEpoch)
            {
                rates.Add(budget.LearningRate(Rates));
                clock.Advance(stepSeconds(step));
                step++;
                batch++;
                budget.StepDone(step, batch);
                if (step >= budget.PlannedSteps || step == stopAfterStep)
                    break;
            }
            if (step == stopAfterStep)
                break;
            budget.TimeValidation(() => { clock.Advance(validationSeconds); return 0; });
            budget.TimeSave(() => clock.Advance(saveSeconds));
            epochs++;
        }
        return new Run(clock.Seconds - start, step, epochs, rates, budget.Plan());
    }

    [Fact]
    public void At_a_steady_pace_the_run_fills_its_budget_without_passing_it()
    {
        // 0.25 s a step, 200 steps an epoch (50 s), 6 s of validation and 1 s of checkpoint per epoch: a 10-minute
        // budget less its 3% margin (582 s) holds 10 epochs (570 s) and 20 steps of an eleventh with its end (12 s).
        var run = Simulate(600, stepsPerEpoch: 200, maxSteps: 100_000, _ => 0.25, validationSeconds: 6, saveSeconds: 1);

        Assert.Equal(582, run.Seconds, 6);
        Assert.Equal(2020, run.Steps);
        Assert.Equal(11, run.Epochs);
        Assert.Equal(2020, run.Plan.PlannedSteps);
        Assert.Equal(2020 * 128, run.Plan.PlannedImages);
        Assert.Equal(10.1, run.Plan.PlannedEpochs, 9);
        // The schedule reaches its floor at the last step.
        Assert.Equal(Rates.MinLearningRate, run.LearningRates[^1], 12);
        Assert.Equal(Rates.BaseLearningRate, run.LearningRates.Max(), 6);
    }

    [Fact]
    public void With_a_steady_plan_the_schedule_is_the_cosine_schedule_of_that_length()
    {
        // A budget far beyond the run: the recipe's length (1,001 steps) is the plan from the start.
        const long total = 1001, warmup = 100;
        var run = Simulate(1e9, stepsPerEpoch: 77, maxSteps: total, _ => 0.1, validationSeconds: 1, saveSeconds: 1, warmupFraction: warmup / (total - 1.0));
        var cosine = new CosineSchedule(Rates.BaseLearningRate, Rates.MinLearningRate, Rates.WarmupLearningRate, warmup, total);

        Assert.Equal(total, run.Steps);
        for (var step = 0; step < total; step++)
            Assert.True(Math.Abs(cosine.LearningRate(step) - run.LearningRates[step]) < 1e-12, $"step {step}: {run.LearningRates[step]} instead of {cosine.LearningRate(step)}");
    }

    [Theory]
    [InlineData(3.0)]   // the machine gets busy: steps three times slower from the 600th on
    [InlineData(0.4)]   // the machine gets free: steps faster
    public void A_change_of_pace_mid_run_still_ends_within_the_budget_and_the_rate_stays_continuous(double factor)
    {
        var run = Simulate(600, stepsPerEpoch: 200, maxSteps: 100_000, step => step < 600 ? 0.2 : 0.2 * factor, validationSeconds: 5, saveSeconds: 1);

        Assert.InRange(run.Seconds, 570, 600);
        Assert.Equal(Rates.MinLearningRate, run.LearningRates[^1], 12);
        // A plan of N steps moves the rate by at most (peak − floor)·π/2 / N a step; a schedule restarted or
        // rescaled at the new plan's step count would jump by a third of the peak here.
        var largestChange = run.LearningRates.Zip(run.LearningRates.Skip(1), (a, b) => Math.Abs(b - a)).Max();
        Assert.True(largestChange < 0.01 * Rates.BaseLearningRate, $"the rate jumped by {largestChange}");
    }

    [Fact]
    public void Validation_timed_while_the_machine_was_busy_counts_at_the_pace_of_the_steps_once_it_is_free()
    {
        // As the demo on a machine that is busy at the start: validation is timed at 30 s a pass before the first
        // step, the first steps take 1.5 s, and from the eighth step on the machine is three times as fast (steps of
        // 0.5 s, validation passes of 10 s). 7.5 passes held for after training cost 75 s then, not 225 s.
        var clock = new ManualClock();
        const double Slowness = 3;
        var busy = true;
        var budget = new TrainingTimeBudget(TimeSpan.FromSeconds(450), clock, stepsPerEpoch: 4680, batchSize: 128, maxSteps: 4680,
            validationImages: 10_000, saves: true, warmupFraction: 0.1, resumed: null, validationPassesAfterTraining: 7.5);
        budget.ProbeValidation(128, 512, images => clock.Advance(images * 0.001 * (busy ? Slowness : 1)));
        budget.StartSteps();
        long step = 0;
        while (step < budget.PlannedSteps)
        {
            busy = step < 7;
            clock.Advance(0.5 * (busy ? Slowness : 1));
            step++;
            budget.StepDone(step, step);
        }
        // The last (part-)epoch's validation pass and checkpoint, then what the demo does after training.
        var afterTraining = budget.SecondsPerValidation + budget.SecondsPerSave + 7.5 * budget.SecondsPerValidation;

        Assert.Equal(10, budget.SecondsPerValidation, 6);
        Assert.InRange(clock.Seconds + afterTraining, 0.9 * 450, 450);
        Assert.True(step > 600, $"training ended after {step} steps, {clock.Seconds:F0} s of the 450 s budget");
    }

    [Fact]
    public void Steps_of_noisy_length_end_within_the_budget()
    {
        var random = new Random(3);
        var run = Simulate(300, stepsPerEpoch: 150, maxSteps: 100_000, _ => 0.2 * (0.6 + 0.8 * random.NextDouble()), validationSeconds: 4, saveSeconds: 0.5);

        Assert.InRange(run.Seconds, 280, 300);
    }

    [Fact]
    public void A_budget_that_buys_more_than_the_recipe_stops_at_the_recipe()
    {
        var run = Simulate(3600, stepsPerEpoch: 100, maxSteps: 500, _ => 0.1, validationSeconds: 1, saveSeconds: 1);

        Assert.Equal(500, run.Steps);
        Assert.Equal(5, run.Epochs);
        Assert.InRange(run.Seconds, 59, 61);
    }

    [Fact]
    public void A_resumed_run_keeps_its_budget_its_spent_time_and_its_place_on_the_schedule()
    {
        var straight = Simulate(400, stepsPerEpoch: 100, maxSteps: 100_000, _ => 0.25, validationSeconds: 3, saveSeconds: 1);

        var first = Simulate(400, stepsPerEpoch: 100, maxSteps: 100_000, _ => 0.25, validationSeconds: 3, saveSeconds: 1, stopAfterStep: 550);
        // A new process: a new clock, and a budget given again (ignored: the run keeps its own).
        var rest = Simulate(5000, stepsPerEpoch: 100, maxSteps: 100_000, _ => 0.25, validationSeconds: 3, saveSeconds: 1,
            resumed: first.Plan, stepsDone: first.Steps);

        Assert.Equal(400, rest.Plan.BudgetSeconds);
        Assert.Equal(first.Seconds + rest.Seconds, rest.Plan.SpentSeconds, 6);
        Assert.InRange(rest.Plan.SpentSeconds, 385, 400);
        Assert.InRange(rest.Steps, straight.Steps - 3, straight.Steps + 3);
        // The rate goes on from where it stood.
        var gap = Math.Abs(rest.LearningRates[0] - first.LearningRates[^1]);
        Assert.True(gap < 0.01 * Rates.BaseLearningRate, $"the rate jumped by {gap} at the resume");
    }

    [Fact]
    public void The_planner_counts_each_epoch_end_the_plan_reaches()
    {
        // 100 s, 1 s a step, 5 s an epoch's end, 10 steps an epoch: 65 steps end 7 epochs (65 + 35 = 100 s);
        // 66 steps would cost 101 s.
        Assert.Equal(65, TimeBudgetPlanner.PlanTotalSteps(100, 0, 0, 10, 1000, 1, 5));
        // Mid-epoch (4 of 10 done at step 24): 6 more close this epoch, each later epoch costs 15 s.
        Assert.Equal(24 + 6 + 10 * 5, TimeBudgetPlanner.PlanTotalSteps(6 + 5 + 5 * 15, 24, 4, 10, 1000, 1, 5));
        // The current epoch's end is owed even when no step fits.
        Assert.Equal(24, TimeBudgetPlanner.PlanTotalSteps(3, 24, 4, 10, 1000, 1, 5));
        Assert.Equal(1, TimeBudgetPlanner.EpochEnds(0, 4, 10));
        Assert.Equal(0, TimeBudgetPlanner.EpochEnds(0, 0, 10));
        Assert.Equal(1, TimeBudgetPlanner.EpochEnds(0, 10, 10));
        Assert.Equal(2, TimeBudgetPlanner.EpochEnds(1, 10, 10));
        Assert.Equal(3, TimeBudgetPlanner.EpochEnds(21, 0, 10));
    }

    [Theory]
    [InlineData("8m", 480)]
    [InlineData("90s", 90)]
    [InlineData("1h30m", 5400)]
    [InlineData("1h", 3600)]
    [InlineData("2.5m", 150)]
    [InlineData("600", 600)]
    [InlineData(" 1m30s ", 90)]
    public void Durations_are_read_in_hours_minutes_and_seconds(string text, double seconds) =>
        Assert.Equal(seconds, TimeBudgetFormat.Parse(text).TotalSeconds);

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("5x")]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("m")]
    public void Other_durations_are_refused_with_the_forms_accepted(string text)
    {
        var error = Assert.Throws<FormatException>(() => TimeBudgetFormat.Parse(text));
        Assert.Contains($"'{text}'", error.Message);
    }

    [Theory]
    [InlineData(480, "8m00s")]
    [InlineData(42, "42s")]
    [InlineData(3900, "1h05m")]
    public void Durations_are_written_short(double seconds, string text) => Assert.Equal(text, TimeBudgetFormat.Format(seconds));
}
