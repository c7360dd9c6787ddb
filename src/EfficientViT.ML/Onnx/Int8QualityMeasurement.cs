using System.Globalization;

namespace EfficientViT.ML.Onnx;

/// <summary>One int8 graph measured against the float32 graph on the held-out images.</summary>
/// <param name="Graph">Which graph: "plain", or the repair it was made with.</param>
/// <param name="MeanCosine">The mean over the held-out images of the cosine similarity of int8 and float32 features.</param>
/// <param name="LowestCosine">The lowest of those cosines.</param>
/// <param name="Top1Agreement">The share of held-out images whose top-1 class is the same in int8 and float32; null without a classification head.</param>
public sealed record Int8QualityMeasurement(string Graph, double MeanCosine, double LowestCosine, double? Top1Agreement)
{
    /// <summary>The figures in one phrase, e.g. "plain: mean cosine 0.9972, lowest 0.9746".</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Graph}: mean cosine {MeanCosine:F4}, lowest {LowestCosine:F4}") +
        (Top1Agreement is { } agreement ? string.Create(CultureInfo.InvariantCulture, $", top-1 agreement {agreement:P1}") : "");
}
