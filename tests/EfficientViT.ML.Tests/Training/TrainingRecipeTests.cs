using EfficientViT.ML.Training;

namespace EfficientViT.ML.Tests.Training;

public class TrainingRecipeTests
{
    [Fact]
    public void Official_defaults_are_the_published_recipe()
    {
        var recipe = TrainingRecipe.Official;
        Assert.Equal(300, recipe.Epochs);
        Assert.Equal(2048, recipe.BatchSize);
        Assert.Equal(1e-3, recipe.BaseLearningRate);
        Assert.Equal(4e-3, recipe.ScaledLearningRate(), 15);
        Assert.Equal(1e-5, recipe.MinLearningRate);
        Assert.Equal(1e-6, recipe.WarmupLearningRate);
        Assert.Equal(5, recipe.WarmupEpochs);
        Assert.Equal(0.025, recipe.WeightDecay);
        Assert.Equal(1e-8, recipe.AdamEpsilon);
        Assert.Equal(GradientClipMode.Adaptive, recipe.GradientClipMode);
        Assert.Equal(0.02, recipe.GradientClip);
        Assert.Equal(0.8, recipe.MixupAlpha);
        Assert.Equal(1.0, recipe.CutmixAlpha);
        Assert.Equal(1.0, recipe.MixupProbability);
        Assert.Equal(0.5, recipe.MixupSwitchProbability);
        Assert.Equal(0.1, recipe.LabelSmoothing);
        Assert.Equal(0.99996, recipe.EmaDecay);
        Assert.Equal(DistillationMode.None, recipe.Distillation);
        Assert.Equal(0.5, recipe.DistillationAlpha);
        Assert.Equal(1.0, recipe.DistillationTau);
        recipe.Validate();
    }

    [Fact]
    public void Learning_rate_scales_linearly_with_the_batch()
    {
        Assert.Equal(1e-3, (TrainingRecipe.Official with { BatchSize = 512 }).ScaledLearningRate(), 15);
        Assert.Equal(1.25e-4, (TrainingRecipe.Official with { BatchSize = 64 }).ScaledLearningRate(), 15);
    }

    [Fact]
    public void Small_data_preset_scales_warm_up_rates_and_ema()
    {
        // 60 epochs of 20 steps: warm-up 60/60 = 1 epoch; batch 64 gives a peak of 1.25e-4.
        var recipe = TrainingRecipe.ForSmallData(60, 64, stepsPerEpoch: 20);
        recipe.Validate();
        Assert.Equal(60, recipe.Epochs);
        Assert.Equal(64, recipe.BatchSize);
        Assert.Equal(1, recipe.WarmupEpochs);
        Assert.Equal(1.25e-4 / 400, recipe.MinLearningRate, 15);
        Assert.Equal(1.25e-4 / 4000, recipe.WarmupLearningRate, 15);
        // Horizon 2/15 of 1200 steps = 160 steps.
        Assert.Equal(1 - 1.0 / 160, recipe.EmaDecay!.Value, 12);
        // Regularisation is the official one.
        Assert.Equal(0.025, recipe.WeightDecay);
        Assert.Equal(0.1, recipe.LabelSmoothing);
        Assert.Equal(0.8, recipe.MixupAlpha);
    }

    [Fact]
    public void Small_data_preset_without_steps_per_epoch_turns_the_ema_off()
    {
        var recipe = TrainingRecipe.ForSmallData(10, 32);
        Assert.Null(recipe.EmaDecay);
        Assert.Equal(1, recipe.WarmupEpochs); // 10/60 rounds to 0, but at least one epoch when there are two
        Assert.Equal(0, TrainingRecipe.ForSmallData(1, 32).WarmupEpochs);
        Assert.Equal(5, TrainingRecipe.ForSmallData(300, 32).WarmupEpochs);
    }

    [Fact]
    public void Ema_decay_for_the_official_run_is_the_official_decay()
    {
        Assert.Equal(0.99996, TrainingRecipe.EmaDecayForRun(300 * 625), 12);
        Assert.Equal(0.0, TrainingRecipe.EmaDecayForRun(3), 12); // horizon floored at one step: the EMA follows the model
    }

    [Fact]
    public void Validate_names_the_bad_value()
    {
        var error = Assert.Throws<ArgumentException>(() => (TrainingRecipe.Official with { WarmupEpochs = 300 }).Validate());
        Assert.Contains("WarmupEpochs", error.Message);
    }

    [Fact]
    public void A_resolution_schedule_grows_in_steps_of_16_and_ends_with_the_full_size_epochs()
    {
        var recipe = TrainingRecipe.ForSmallData(12, 128) with { StartImageSize = 64, FullSizeEpochs = 3 };

        // Nine ramp epochs from 64 to 112: 64 + 48·e/9 rounded down to 16.
        Assert.Equal(new[] { 64, 64, 64, 80, 80, 80, 96, 96, 96, 112, 112, 112 }, Enumerable.Range(0, 12).Select(e => recipe.ImageSizeAt(e, 112)));
        Assert.Equal("64 (epochs 1-3), 80 (4-6), 96 (7-9), 112 (10-12)", recipe.DescribeImageSizes(112));
        Assert.All(Enumerable.Range(0, 12), e => Assert.Equal(112, (recipe with { StartImageSize = null }).ImageSizeAt(e, 112)));
        Assert.Equal(new[] { 32, 48, 64 }, Enumerable.Range(0, 3).Select(e => (recipe with { Epochs = 3, StartImageSize = 32, FullSizeEpochs = 1 }).ImageSizeAt(e, 64)));
    }

    [Theory]
    [InlineData(40, 3, "StartImageSize")]
    [InlineData(16, 3, "StartImageSize")]
    [InlineData(64, 0, "FullSizeEpochs")]
    [InlineData(64, 12, "FullSizeEpochs")]
    public void A_resolution_schedule_out_of_range_is_refused_by_name(int start, int fullSizeEpochs, string name)
    {
        var recipe = TrainingRecipe.ForSmallData(12, 128) with { StartImageSize = start, FullSizeEpochs = fullSizeEpochs };
        var error = Assert.Throws<ArgumentException>(recipe.Validate);
        Assert.Contains(name, error.Message);
    }
}
