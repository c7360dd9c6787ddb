using System.Diagnostics;
using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.Benchmarks;

/// <summary>Times forward passes with a plain stopwatch loop.</summary>
internal static class ThroughputMeter
{
    // The first pass pays one-off costs (allocator growth, oneDNN kernel selection, the attention-bias
    // cache the model builds in eval mode, thread start-up after a thread-count change) and is thrown
    // away. Small configurations keep warming up for a quarter of a second so caches and the CPU clock settle.
    private const int WarmupIterations = 1;
    private static readonly TimeSpan WarmupDuration = TimeSpan.FromSeconds(0.25);

    // The time for each model is split into rounds that alternate between the models, so a slow
    // spell on a shared machine hits the models being compared alike instead of skewing their ratio.
    // Every round runs at least one pass, so each model gets at least Rounds (3) timed passes.
    public const int Rounds = 3;

    /// <summary>
    /// Measures each model on <paramref name="input"/>: a warm-up, then <see cref="Rounds"/> alternating
    /// rounds, until each model has run for at least <paramref name="minimumDuration"/> in total.
    /// Throughput is total images over total timed seconds. Results are in the order of <paramref name="models"/>.
    /// </summary>
    public static Measurement[] Measure(IReadOnlyList<EfficientVit> models, EfficientVitVariant variant, int threads, Tensor input, TimeSpan minimumDuration)
    {
        // No autograd graph: inference only, and a graph would keep activations alive.
        using var noGrad = torch.no_grad();

        foreach (var model in models)
            RunUntil(model, input, WarmupIterations, WarmupDuration);

        var batch = (int)input.shape[0];
        var iterations = new int[models.Count];
        var elapsed = new TimeSpan[models.Count];
        var roundRates = models.Select(_ => new List<double>()).ToArray();
        for (var round = 0; round < Rounds; round++)
        {
            for (var i = 0; i < models.Count; i++)
            {
                var (n, time) = RunUntil(models[i], input, minimumIterations: 1, minimumDuration / Rounds);
                iterations[i] += n;
                elapsed[i] += time;
                roundRates[i].Add(n * (double)batch / time.TotalSeconds);
            }
        }

        return models.Select((model, i) => new Measurement(variant, model.IsFused, threads, batch, iterations[i], elapsed[i], roundRates[i])).ToArray();
    }

    private static (int Iterations, TimeSpan Elapsed) RunUntil(EfficientVit model, Tensor input, int minimumIterations, TimeSpan minimumDuration)
    {
        var iterations = 0;
        var stopwatch = Stopwatch.StartNew();
        do
        {
            ForwardOnce(model, input);
            iterations++;
        }
        while (iterations < minimumIterations || stopwatch.Elapsed < minimumDuration);
        stopwatch.Stop();
        return (iterations, stopwatch.Elapsed);
    }

    private static void ForwardOnce(EfficientVit model, Tensor input)
    {
        // Every tensor the pass creates (activations, logits) is freed when the scope ends, so native
        // memory stays flat however many passes run. The logits themselves are not needed: CPU
        // execution is synchronous, so the work is done when forward returns.
        using var scope = torch.NewDisposeScope();
        model.forward(input);
    }
}
