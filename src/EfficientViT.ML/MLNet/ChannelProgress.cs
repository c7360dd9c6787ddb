using System.Globalization;
using EfficientViT.ML.Training;
using Microsoft.ML.Runtime;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Writes training progress to an ML.NET channel (so it reaches <c>MLContext.Log</c>) and passes every
/// report on to the user's <see cref="IProgress{T}"/>: each epoch's results as Info, steps as Trace.
/// </summary>
internal sealed class ChannelProgress(IChannel channel, IProgress<TrainingProgress>? next) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value)
    {
        var invariant = CultureInfo.InvariantCulture;
        if (value.EpochEnd is { } epoch)
        {
            var validation = double.IsNaN(epoch.ValidationTop1)
                ? ""
                : string.Format(invariant, ", validation loss {0:F4}, top-1 {1:P2}", epoch.ValidationLoss, epoch.ValidationTop1);
            channel.Info(MessageSensitivity.None, string.Format(invariant, "epoch {0}/{1}: train loss {2:F4}{3}, lr {4:G3}, {5:F0} images/s, {6:F1} s",
                epoch.Epoch + 1, value.Epochs, epoch.TrainLoss, validation, epoch.LearningRate, epoch.ImagesPerSecond, epoch.Seconds));
        }
        else
        {
            channel.Trace(MessageSensitivity.None, string.Format(invariant, "epoch {0}/{1}, step {2}/{3}: loss {4:F4}, lr {5:G3}, {6:F0} images/s, ETA {7:hh\\:mm\\:ss}",
                value.Epoch + 1, value.Epochs, value.Step, value.TotalSteps, value.Loss, value.LearningRate, value.ImagesPerSecond, value.Eta));
        }
        next?.Report(value);
    }
}
