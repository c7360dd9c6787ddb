using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

/// <summary>The recipe's pieces put together as a training loop does, on a tiny synthetic batch.</summary>
public class TrainingStepTests
{
    private const int Classes = 3;

    // One optimizer step of the recipe: forward, soft-target loss, backward, AGC, AdamW, EMA.
    private static double Step(EfficientVit model, AdamWWithGroups optimizer, ModelEma ema, Tensor images, Tensor targets, TrainingRecipe recipe)
    {
        using var scope = NewDisposeScope();
        optimizer.Optimizer.zero_grad();
        var loss = Losses.SoftTargetCrossEntropy(model.forward(images), targets);
        loss.backward();
        GradientClipping.Apply(model.parameters(), recipe.GradientClipMode, recipe.GradientClip);
        optimizer.Optimizer.step();
        ema.Update(model);
        return loss.ToDouble();
    }

    private static (Tensor Images, Tensor Targets) Batch()
    {
        var generator = new Generator(17);
        var labels = tensor(new long[] { 0, 1, 2, 0, 1, 2, 0, 1 });
        // Each class shifts the images differently, so the classes can be told apart.
        var images = randn(new long[] { 8, 3, 32, 32 }, generator: generator) + labels.to(ScalarType.Float32).view(8, 1, 1, 1);
        var targets = new MixupCutmix(Classes, labelSmoothing: 0).SmoothedOneHot(labels);
        return (images, targets);
    }

    [Fact]
    public void A_few_steps_reduce_the_loss()
    {
        manual_seed(0);
        using var scope = NewDisposeScope();
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 32, numClasses: Classes);
        model.train();
        var recipe = TrainingRecipe.Official with { BatchSize = 2048 }; // peak 4e-3: a few steps must show progress
        using var optimizer = OptimizerFactory.CreateAdamW(model, recipe);
        using var ema = new ModelEma(model, decay: 0.9);
        var (images, targets) = Batch();

        var losses = Enumerable.Range(0, 10).Select(_ => Step(model, optimizer, ema, images, targets, recipe)).ToList();

        using var noGrad = no_grad();
        var final = Losses.SoftTargetCrossEntropy(model.forward(images), targets).ToDouble();
        Assert.True(final < 0.5 * losses[0], $"loss went from {losses[0]:F4} to {final:F4} ({string.Join(", ", losses.Select(l => l.ToString("F3")))})");
    }

    [Fact]
    public void Training_steps_leave_no_live_tensors_behind()
    {
        manual_seed(1);
        using var scope = NewDisposeScope();
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 32, numClasses: Classes);
        model.train();
        var recipe = TrainingRecipe.Official;
        using var optimizer = OptimizerFactory.CreateAdamW(model, recipe);
        using var ema = new ModelEma(model, decay: 0.9);
        var (images, labels) = (randn(4, 3, 32, 32), tensor(new long[] { 0, 1, 2, 0 }));
        var mixer = MixupCutmix.FromRecipe(recipe, Classes);
        var metrics = new ClassificationMetrics(Classes);
        var random = new Random(0);

        void FullStep()
        {
            using var stepScope = NewDisposeScope();
            var (mixed, targets) = mixer.Apply(images, labels, random);
            optimizer.Optimizer.zero_grad();
            var (logits, _) = model.ForwardWithDistillation(mixed);
            var loss = Losses.Distillation(logits, null, null, l => Losses.SoftTargetCrossEntropy(l, targets), DistillationMode.None);
            loss.backward();
            GradientClipping.ClipAdaptive(model.parameters(), recipe.GradientClip);
            GradientClipping.ClipNorm(model.parameters(), 5.0);
            optimizer.SetLearningRate(1e-3);
            optimizer.Optimizer.step();
            ema.Update(model);
            using var noGrad = no_grad();
            metrics.Add(logits, labels);
            Losses.LabelSmoothingCrossEntropy(logits, labels);
        }

        FullStep(); // creates the optimizer state
        var statistics = DisposeScopeManager.Statistics;
        var liveBefore = statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 5; i++)
        {
            FullStep();
            Assert.Equal(liveBefore, statistics.ThreadTotalLiveCount);
        }
        Assert.Equal(6 * 4, metrics.Count);
    }
}
