namespace EfficientViT.ML.Acceleration;

/// <summary>What <see cref="TrainingSpeed.Measure"/> found: the rate and the mean seconds of each phase of a step.</summary>
/// <param name="Batch">Images per step.</param>
/// <param name="Steps">Timed steps.</param>
/// <param name="Seconds">Wall time of the timed steps.</param>
/// <param name="Forward">Mean seconds of the forward pass and loss.</param>
/// <param name="Backward">Mean seconds of zeroing the gradients and the backward pass.</param>
/// <param name="Clip">Mean seconds of gradient clipping.</param>
/// <param name="Optimizer">Mean seconds of the optimizer step.</param>
internal sealed record TrainingStepTimes(int Batch, int Steps, double Seconds, double Forward, double Backward, double Clip, double Optimizer)
{
    /// <summary>Images per second over the timed steps.</summary>
    public double ImagesPerSecond => Steps * Batch / Seconds;

    /// <summary>Mean milliseconds per step.</summary>
    public double MillisecondsPerStep => Seconds * 1000 / Steps;
}
