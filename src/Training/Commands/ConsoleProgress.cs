using System.Diagnostics;
using EfficientViT.ML.Training;

namespace EfficientViT.Training.Commands;

/// <summary>
/// A live progress line (loss, learning rate, images/s, ETA) that redraws in place on a terminal and
/// prints every few seconds when the output is redirected (CI logs), plus one line per finished epoch.
/// </summary>
internal sealed class ConsoleProgress : IProgress<TrainingProgress>
{
    private readonly Stopwatch sinceLastLine = Stopwatch.StartNew();
    private readonly bool redirected = Console.IsOutputRedirected;

    public void Report(TrainingProgress p)
    {
        if (p.EpochEnd is { } end)
        {
            Clear();
            var validation = double.IsNaN(end.ValidationTop1) ? "" : $"  val loss {end.ValidationLoss:F4}  val top-1 {end.ValidationTop1:P2}" +
                (double.IsNaN(end.ValidationTop5) ? "" : $"  top-5 {end.ValidationTop5:P2}");
            Console.WriteLine($"epoch {end.Epoch + 1}/{p.Epochs}  train loss {end.TrainLoss:F4}{validation}  {end.ImagesPerSecond:F0} img/s  {end.Seconds:F0} s");
            return;
        }
        if (redirected && sinceLastLine.Elapsed < TimeSpan.FromSeconds(10))
            return;
        sinceLastLine.Restart();
        var percent = p.TotalSteps == 0 ? 0 : 100.0 * p.Step / p.TotalSteps;
        var line = $"epoch {p.Epoch + 1}/{p.Epochs}  step {p.Step}/{p.TotalSteps} ({percent:F0}%)  loss {p.Loss:F4}  lr {p.LearningRate:G3}  {p.ImagesPerSecond:F0} img/s  ETA {p.Eta:hh\\:mm\\:ss}";
        if (redirected)
            Console.WriteLine(line);
        else
            Console.Write("\r" + line.PadRight(Math.Max(line.Length, Console.WindowWidth - 1)));
    }

    private void Clear()
    {
        if (!redirected)
            Console.Write("\r" + new string(' ', Math.Max(0, Console.WindowWidth - 1)) + "\r");
    }
}
