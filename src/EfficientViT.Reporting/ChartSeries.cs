namespace EfficientViT.Reporting;

/// <summary>One named line of a chart: a value per point (e.g. per epoch).</summary>
/// <param name="Name">The legend's text.</param>
/// <param name="Values">The values in x order; a NaN (or infinite) value breaks the line there.</param>
/// <example>
/// <code>
/// var train = new ChartSeries("train", [2.1, 1.6, 1.3, 1.1]);
/// </code>
/// </example>
public sealed record ChartSeries(string Name, IReadOnlyList<double> Values);
