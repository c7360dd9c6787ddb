using EfficientViT.ML.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

public class CosineScheduleTests
{
    // base 1e-3, min 1e-5, warm-up from 1e-6 over 10 steps, 111 steps in all: the cosine spans steps 10..110 (100 intervals).
    private static readonly CosineSchedule Schedule = new(1e-3, 1e-5, 1e-6, warmupSteps: 10, totalSteps: 111);

    [Fact]
    public void Step_zero_is_the_warm_up_rate() => Assert.Equal(1e-6, Schedule.LearningRate(0), 12);

    [Fact]
    public void Warm_up_is_linear()
    {
        // Half-way: 1e-6 + (1e-3 - 1e-6) / 2.
        Assert.Equal(5.005e-4, Schedule.LearningRate(5), 12);
    }

    [Fact]
    public void End_of_warm_up_is_the_base_rate() => Assert.Equal(1e-3, Schedule.LearningRate(10), 12);

    [Fact]
    public void Middle_of_the_cosine_is_the_mean_of_base_and_min()
    {
        // Step 60 is 50 of 100 cosine intervals: cos(pi/2) = 0.
        Assert.Equal((1e-3 + 1e-5) / 2, Schedule.LearningRate(60), 12);
    }

    [Fact]
    public void A_quarter_into_the_cosine_follows_the_formula()
    {
        // Step 35: progress 0.25, lr = min + (base - min) (1 + cos(pi/4)) / 2.
        Assert.Equal(1e-5 + (1e-3 - 1e-5) * (1 + Math.Sqrt(0.5)) / 2, Schedule.LearningRate(35), 12);
    }

    [Fact]
    public void Last_step_and_beyond_are_the_minimum()
    {
        Assert.Equal(1e-5, Schedule.LearningRate(110), 12);
        Assert.Equal(1e-5, Schedule.LearningRate(500), 12);
    }

    [Fact]
    public void Rate_never_rises_after_warm_up()
    {
        for (var step = 11; step < 111; step++)
            Assert.True(Schedule.LearningRate(step) <= Schedule.LearningRate(step - 1));
    }

    [Fact]
    public void Without_warm_up_step_zero_is_the_base_rate()
    {
        var schedule = new CosineSchedule(2e-3, 0, 1e-6, warmupSteps: 0, totalSteps: 5);
        Assert.Equal(2e-3, schedule.LearningRate(0), 12);
        Assert.Equal(1e-3, schedule.LearningRate(2), 12);
        Assert.Equal(0, schedule.LearningRate(4), 12);
    }

    [Fact]
    public void Official_recipe_schedule_has_the_official_lengths_and_peak()
    {
        // ImageNet: 1,281,167 images / 2048 per batch = 625 steps per epoch.
        var schedule = CosineSchedule.ForRecipe(TrainingRecipe.Official, stepsPerEpoch: 625);
        Assert.Equal(4e-3, schedule.BaseLearningRate, 12);
        Assert.Equal(5 * 625, schedule.WarmupSteps);
        Assert.Equal(300 * 625, schedule.TotalSteps);
        Assert.Equal(1e-6, schedule.LearningRate(0), 12);
        Assert.Equal(1e-5, schedule.LearningRate(300 * 625 - 1), 12);
    }

    [Fact]
    public void Invalid_lengths_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineSchedule(1e-3, 1e-5, 1e-6, 10, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineSchedule(1e-3, 1e-5, 1e-6, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.LearningRate(-1));
    }

    [Fact]
    public void Apply_sets_every_parameter_group()
    {
        using var first = new TorchSharp.Modules.Parameter(zeros(2));
        using var second = new TorchSharp.Modules.Parameter(zeros(3));
        using var optimizer = optim.AdamW(new[]
        {
            new TorchSharp.Modules.AdamW.ParamGroup(new[] { first }, lr: 1.0),
            new TorchSharp.Modules.AdamW.ParamGroup(new[] { second }, lr: 2.0),
        });

        CosineSchedule.Apply(optimizer, 0.25);
        Assert.All(optimizer.ParamGroups, group => Assert.Equal(0.25, group.LearningRate));

        CosineSchedule.Apply(optimizer, 0.25, new[] { 1.0, 0.1 });
        Assert.Equal(new[] { 0.25, 0.025 }, optimizer.ParamGroups.Select(group => group.LearningRate).ToArray());
    }
}
