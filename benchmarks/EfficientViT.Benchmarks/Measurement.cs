using EfficientViT.ML.Modeling;

namespace EfficientViT.Benchmarks;

/// <summary>
/// One timed configuration: <paramref name="Iterations"/> forward passes of <paramref name="Batch"/> images
/// in <paramref name="Elapsed"/>, split into rounds whose own throughputs are <paramref name="RoundImagesPerSecond"/>.
/// </summary>
internal sealed record Measurement(
    EfficientVitVariant Variant, bool Fused, int Threads, int Batch, int Iterations, TimeSpan Elapsed, IReadOnlyList<double> RoundImagesPerSecond)
{
    public double ImagesPerSecond => Iterations * (double)Batch / Elapsed.TotalSeconds;

    public double MillisecondsPerBatch => Elapsed.TotalMilliseconds / Iterations;

    /// <summary>
    /// (fastest − slowest round) ÷ fastest round. The model does the same work every round, so a large
    /// spread means the machine was not steady (other load, frequency changes) and the row is unreliable.
    /// </summary>
    public double RoundSpread => 1 - RoundImagesPerSecond.Min() / RoundImagesPerSecond.Max();
}
