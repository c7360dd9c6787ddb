using System.Text.Json;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

/// <summary>
/// The trainer on a time budget, on a clock that moves one second per step (in the progress report that follows
/// each step) and not at all during validation and checkpoints.
/// </summary>
[Collection(TorchGlobalStateCollection.Name)]
public class TrainerTimeBudgetTests
{
    private const double Budget = 20;

    private static EfficientVitTrainer Make(EfficientVit model, string output, ManualClock clock, TimeSpan? budget, bool resume = false) =>
        new(model, TrainerTests.Recipe(epochs: 4), new TrainerOptions
        {
            OutputDirectory = output,
            Resume = resume,
            Workers = 2,
            Threads = 1,
            TimeBudget = budget,
            Clock = clock,
        }, CheckpointMetadata.FromConfig(model.Config));

    private static EfficientVit NewModel()
    {
        manual_seed(11);
        return EfficientVit.Create(EfficientVitVariant.M0, TrainerTests.Size, TrainerTests.ModelClasses);
    }

    // Reports synchronously; moves the clock a second per step and records the steps' learning rates.
    private sealed class StepClock(ManualClock clock, List<double> rates, Action<TrainingProgress>? then = null) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            if (value.EpochEnd is not null)
                return;
            clock.Advance(1);
            rates.Add(value.LearningRate);
            then?.Invoke(value);
        }
    }

    [Fact]
    public void A_budgeted_run_ends_within_its_budget_and_a_resumed_one_keeps_the_plan()
    {
        using var dir = new TempDirectory();
        var data = TrainerTests.TinyData(1);
        var budget = TimeSpan.FromSeconds(Budget);

        // The recipe's 4 epochs are 24 steps; 20 s less the margin buy fewer (the first epoch's end is estimated
        // at 5 s, then measured at nothing).
        var straightRates = new List<double>();
        var straightClock = new ManualClock();
        TrainingResult straight;
        using (var model = NewModel())
            straight = Make(model, Path.Combine(dir.Path, "straight"), straightClock, budget).Train(data, data, TrainerTests.TrainTransform, TrainerTests.EvalTransform, new StepClock(straightClock, straightRates));
        Assert.True(straight.Completed);
        var plan = Assert.IsType<TimeBudgetPlan>(straight.TimeBudget);
        Assert.Equal(Budget, plan.BudgetSeconds);
        Assert.InRange(straightClock.Seconds, 15, Budget);
        Assert.InRange(straight.Steps, 15, 20);
        Assert.Equal(straight.Steps, plan.PlannedSteps);
        Assert.Equal(straight.Steps * 8, plan.PlannedImages);
        Assert.Equal(1.0, plan.Progress);
        // The last epoch ends part-way and is validated like the others.
        Assert.Equal((int)Math.Ceiling(straight.Steps / 6.0), straight.Epochs.Count);

        // Stopped after 5 steps, as Ctrl+C would: state.json tells the plan and the time spent.
        var stopped = Path.Combine(dir.Path, "stopped");
        var firstRates = new List<double>();
        var firstClock = new ManualClock();
        using var cancel = new CancellationTokenSource();
        using (var model = NewModel())
            Make(model, stopped, firstClock, budget).Train(data, data, TrainerTests.TrainTransform, TrainerTests.EvalTransform,
                new StepClock(firstClock, firstRates, p => { if (p.Step == 5) cancel.Cancel(); }), cancel.Token);
        using (var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(stopped, TrainingRunFolder.LastCheckpoint, "state.json"))))
        {
            var saved = state.RootElement.GetProperty("Budget");
            Assert.Equal(Budget, saved.GetProperty("BudgetSeconds").GetDouble());
            Assert.Equal(5, saved.GetProperty("SpentSeconds").GetDouble(), 6);
            Assert.InRange(saved.GetProperty("Progress").GetDouble(), 0.2, 0.8);
        }

        // Resumed in a new process (a new clock) with another budget given: the run keeps its own, less the time spent.
        var restRates = new List<double>();
        var restClock = new ManualClock();
        TrainingResult rest;
        using (var model = NewModel())
            rest = Make(model, stopped, restClock, TimeSpan.FromHours(1), resume: true).Train(data, data, TrainerTests.TrainTransform, TrainerTests.EvalTransform, new StepClock(restClock, restRates));
        Assert.True(rest.Completed);
        var restPlan = Assert.IsType<TimeBudgetPlan>(rest.TimeBudget);
        Assert.Equal(Budget, restPlan.BudgetSeconds);
        Assert.Equal(5 + restClock.Seconds, restPlan.SpentSeconds, 6);
        Assert.InRange(restPlan.SpentSeconds, 15, Budget);
        Assert.InRange(rest.Steps, straight.Steps - 1, straight.Steps + 1);
        // The schedule goes on from its place: the first resumed step's rate is the straight run's at that step,
        // near the peak (a schedule started again would be back at the warm-up's start, 1/4000 of the peak).
        Assert.Equal(straightRates[5], restRates[0], straightRates[5] * 0.25);
        Assert.Equal(firstRates, straightRates.Take(5));
    }

    [Fact]
    public void A_budget_refuses_a_low_to_high_resolution_schedule()
    {
        using var model = NewModel();
        var error = Assert.Throws<ArgumentException>(() => new EfficientVitTrainer(model, TrainerTests.Recipe(epochs: 4) with { StartImageSize = 16 + 16 },
            new TrainerOptions { TimeBudget = TimeSpan.FromMinutes(1) }, CheckpointMetadata.FromConfig(model.Config)));
        Assert.Contains("StartImageSize", error.Message);
    }
}
