using System.Diagnostics;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// Training steps of the small-data recipe (AdamW with its parameter groups, label smoothing, adaptive
/// clipping) on one fixed random batch, timed phase by phase: the model's share of a training run,
/// without data loading. Used by the benchmarks and by <c>efficientvit bench</c>.
/// </summary>
internal sealed class TrainingSpeed : IDisposable
{
    private const int Classes = 10;

    private readonly EfficientVit model;
    private readonly TrainingAcceleration acceleration;
    private readonly AdamWWithGroups optimizer;
    private readonly TrainingRecipe recipe;
    private readonly Tensor images;
    private readonly Tensor labels;

    /// <summary>Builds the model, optimizer and batch; the same seed gives the same weights and batch.</summary>
    /// <param name="variant">The model to train.</param>
    /// <param name="imageSize">Side of the square input (a multiple of 16).</param>
    /// <param name="batch">Images per step.</param>
    /// <param name="flatOptimizer">Whether AdamW and the clipping work on flat buffers (see <see cref="OptimizerFactory.CreateAdamW"/>).</param>
    /// <param name="checkpointActivations">Whether the parts of the network recompute their activations in the backward pass (<see cref="ActivationCheckpointing"/>).</param>
    public TrainingSpeed(EfficientVitVariant variant, int imageSize, int batch, bool flatOptimizer = true, bool checkpointActivations = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ImageSize = imageSize;
        Batch = batch;
        manual_seed(0);
        model = EfficientVit.Create(variant, imageSize, Classes);
        model.train();
        // As EfficientVitTrainer trains (with TrainerOptions.KeepFreedNativeMemory's default).
        acceleration = new TrainingAcceleration(model, channelsLast: batch > 1, keepFreedNativeMemory: true, checkpointActivations);
        recipe = TrainingRecipe.ForSmallData(10, batch, 468).WithPeakLearningRate(2e-3) with { EmaDecay = null };
        optimizer = OptimizerFactory.CreateAdamW(model, recipe, flat: flatOptimizer);
        using (var contiguous = randn(batch, 3, imageSize, imageSize))
            images = acceleration.Input(contiguous);
        labels = randint(0, Classes, [batch]);
    }

    /// <summary>Side of the square input.</summary>
    public int ImageSize { get; }

    /// <summary>Images per step.</summary>
    public int Batch { get; }

    /// <summary>
    /// Runs <paramref name="warmupSteps"/> untimed steps, then steps until both <paramref name="minimumSteps"/>
    /// and <paramref name="minimumDuration"/> are reached, at the current intra-op thread count, or, with a
    /// <paramref name="watcher"/>, at the count it names before each step, as the trainer runs them.
    /// </summary>
    public TrainingStepTimes Measure(TimeSpan minimumDuration, int minimumSteps = 3, int warmupSteps = 2, ThreadCountWatcher? watcher = null)
    {
        var phases = new double[4];
        for (var i = 0; i < warmupSteps; i++)
            StepAt(watcher, phases);
        Array.Clear(phases);
        var steps = 0;
        var clock = Stopwatch.StartNew();
        while (steps < minimumSteps || clock.Elapsed < minimumDuration)
        {
            StepAt(watcher, phases);
            steps++;
        }
        var seconds = clock.Elapsed.TotalSeconds;
        return new TrainingStepTimes(Batch, steps, seconds, phases[0] / steps, phases[1] / steps, phases[2] / steps, phases[3] / steps);
    }

    private void StepAt(ThreadCountWatcher? watcher, double[] phases)
    {
        if (watcher is null)
        {
            Step(phases);
            return;
        }
        if (get_num_threads() != watcher.ThreadsForNextStep)
            set_num_threads(watcher.ThreadsForNextStep);
        var start = Stopwatch.GetTimestamp();
        Step(phases);
        watcher.Report(Stopwatch.GetElapsedTime(start));
    }

    private void Step(double[] phases)
    {
        StepInScope(phases);
        StepGarbage.Collect();
    }

    private void StepInScope(double[] phases)
    {
        using var scope = NewDisposeScope();
        var start = Stopwatch.GetTimestamp();
        var loss = Losses.LabelSmoothingCrossEntropy(model.forward(images), labels, recipe.LabelSmoothing);
        var forwardEnd = Stopwatch.GetTimestamp();
        optimizer.Optimizer.zero_grad();
        loss.backward();
        var backwardEnd = Stopwatch.GetTimestamp();
        optimizer.ClipGradients(recipe.GradientClipMode, recipe.GradientClip);
        var clipEnd = Stopwatch.GetTimestamp();
        optimizer.Optimizer.step();
        var stepEnd = Stopwatch.GetTimestamp();
        phases[0] += Stopwatch.GetElapsedTime(start, forwardEnd).TotalSeconds;
        phases[1] += Stopwatch.GetElapsedTime(forwardEnd, backwardEnd).TotalSeconds;
        phases[2] += Stopwatch.GetElapsedTime(backwardEnd, clipEnd).TotalSeconds;
        phases[3] += Stopwatch.GetElapsedTime(clipEnd, stepEnd).TotalSeconds;
    }

    /// <summary>Disposes the model, optimizer and batch.</summary>
    public void Dispose()
    {
        optimizer.Dispose();
        acceleration.Dispose();
        model.Dispose();
        images.Dispose();
        labels.Dispose();
    }
}
