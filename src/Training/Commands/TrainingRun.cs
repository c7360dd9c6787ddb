using System.Runtime.InteropServices;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using EfficientViT.Reporting;

namespace EfficientViT.Training.Commands;

/// <summary>Runs a trainer from the command line: progress, saving on Ctrl+C and SIGTERM, and a closing summary.</summary>
internal static class TrainingRun
{
    public static TrainingResult Run(TrainingSetup setup, TrainerOptions options, IImageDataset train, IImageDataset? validation)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // The first Ctrl+C asks the trainer to save and stop; a second one ends the process at once.
            if (cancel.IsCancellationRequested)
                return;
            e.Cancel = true;
            Console.Error.WriteLine();
            Console.Error.WriteLine("stopping: saving a checkpoint (Ctrl+C again to quit without saving)...");
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        // SIGTERM (docker stop, systemd, Kubernetes) saves and stops as the first Ctrl+C does, then ends the process
        // with 143 (128 + 15); a second signal ends it at once.
        var terminated = 0;
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            if (cancel.IsCancellationRequested)
                return;
            context.Cancel = true;
            Interlocked.Exchange(ref terminated, 1);
            Console.Error.WriteLine();
            Console.Error.WriteLine("stopping on SIGTERM: saving a checkpoint...");
            cancel.Cancel();
        });
        try
        {
            var (model, recipe) = (setup.Model, setup.Recipe);
            Console.WriteLine($"training EfficientViT-{model.Config.VariantName} at {model.Config.ImageSize}x{model.Config.ImageSize} on {train.Count:N0} images" +
                (validation is null ? "" : $", validating on {validation.Count:N0}") +
                $"; {recipe.Epochs} epochs of batch {recipe.BatchSize}, peak lr {recipe.ScaledLearningRate():G3}" +
                (recipe.StartImageSize is null ? "" : $"; image sides {recipe.DescribeImageSizes(model.Config.ImageSize)}") +
                (options.TimeBudget is { } budget && !options.Resume ? $"; time budget {TimeBudgetFormat.Format(budget.TotalSeconds)} (the epochs are the most it trains)" : "") +
                (options.OutputDirectory is null ? "" : $"; writing to {options.OutputDirectory}"));
            var trainer = new EfficientVitTrainer(model, recipe, options, setup.Metadata);
            var result = trainer.Train(train, validation, setup.TrainTransform, setup.EvalTransform, new ConsoleProgress(), cancel.Token);
            if (result.TimeBudget is { } plan)
                Console.WriteLine($"time {plan}");
            if (result.StopReason is { } reason)
                Console.Error.WriteLine($"stopped: {reason}" + (result.Cancelled && options.OutputDirectory is not null ? "; continue with --resume" : ""));
            if (options.OutputDirectory is { } output && result.Epochs.Count > 0)
            {
                var run = new TrainingRunFolder(output);
                Console.WriteLine($"curves: {run.CurvesPath}; metrics: {run.MetricsPath}; checkpoints: {run.LastPath}, {run.BestPath}");
            }
            if (result.Cancelled && Volatile.Read(ref terminated) == 1)
                throw new StoppedBySignalException(128 + 15);
            return result;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>A validation split of <paramref name="fraction"/> taken from <paramref name="data"/> (stratified), or none.</summary>
    public static (IImageDataset Train, IImageDataset? Validation) Split(IImageDataset data, double fraction, int seed) =>
        fraction <= 0 ? (data, null) : DatasetSplit.Split(data, fraction, seed);
}
