namespace EfficientViT.ML.Training;

/// <summary>A progress report of <see cref="EfficientVitTrainer"/>, after every step and at every epoch's end.</summary>
/// <param name="Epoch">Zero-based epoch.</param>
/// <param name="Epochs">Epochs in the run.</param>
/// <param name="Step">Optimizer steps done so far in the run.</param>
/// <param name="TotalSteps">Optimizer steps of the whole run.</param>
/// <param name="Loss">Mean training loss over the epoch so far.</param>
/// <param name="LearningRate">The learning rate of the last step.</param>
/// <param name="ImagesPerSecond">Training throughput over the epoch so far.</param>
/// <param name="Eta">Estimated time left in the run.</param>
/// <param name="EpochEnd">Set at the end of an epoch, with its validation results.</param>
public sealed record TrainingProgress(int Epoch, int Epochs, long Step, long TotalSteps, double Loss, double LearningRate,
    double ImagesPerSecond, TimeSpan Eta, EpochSummary? EpochEnd = null);

/// <summary>One finished epoch: what goes into <c>metrics.csv</c>.</summary>
/// <param name="Epoch">Zero-based epoch.</param>
/// <param name="TrainLoss">Mean training loss.</param>
/// <param name="ValidationLoss">Mean validation cross-entropy, or NaN without validation data.</param>
/// <param name="ValidationTop1">Validation top-1 accuracy in [0, 1], or NaN.</param>
/// <param name="ValidationTop5">Validation top-5 accuracy in [0, 1], or NaN.</param>
/// <param name="LearningRate">Learning rate at the end of the epoch.</param>
/// <param name="ImagesPerSecond">Training throughput.</param>
/// <param name="Seconds">Wall time of the epoch, validation included.</param>
public sealed record EpochSummary(int Epoch, double TrainLoss, double ValidationLoss, double ValidationTop1, double ValidationTop5,
    double LearningRate, double ImagesPerSecond, double Seconds);
