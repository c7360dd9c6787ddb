namespace EfficientViT.Service.LoadTest;

/// <summary>What one load run measured.</summary>
/// <param name="Configuration">The model and scoring mode.</param>
/// <param name="Clients">Concurrent clients.</param>
/// <param name="Requests">Requests sent.</param>
/// <param name="Seconds">Wall time from the first request to the last answer.</param>
/// <param name="LatenciesMs">Each request's latency, sorted.</param>
/// <param name="Errors">Requests that failed or did not answer 200.</param>
/// <param name="Mismatches">Answers that differ from the serial answer for the same image.</param>
/// <param name="MeanBatch">Mean images per gathered batch (batched scoring), else null.</param>
public sealed record LoadResult(string Configuration, int Clients, int Requests, double Seconds, double[] LatenciesMs, int Errors, int Mismatches, double? MeanBatch)
{
    /// <summary>Requests per second.</summary>
    public double Rate => Requests / Seconds;

    /// <summary>The latency below which <paramref name="fraction"/> of the requests finished (nearest rank).</summary>
    public double Percentile(double fraction) =>
        LatenciesMs.Length == 0 ? double.NaN : LatenciesMs[Math.Clamp((int)Math.Ceiling(fraction * LatenciesMs.Length) - 1, 0, LatenciesMs.Length - 1)];

    /// <summary>A Markdown table row.</summary>
    public string Row() =>
        $"| {Configuration} | {Clients} | {Requests} | {Rate:F1} | {Percentile(0.5):F1} | {Percentile(0.99):F1} | {Errors} | {Mismatches} | {(MeanBatch is { } b ? b.ToString("F2") : "-")} |";

    /// <summary>The table's header.</summary>
    public const string Header = "| model / scoring | clients | requests | req/s | p50 ms | p99 ms | errors | mismatches | images per batch |\n|---|---|---|---|---|---|---|---|---|";
}
