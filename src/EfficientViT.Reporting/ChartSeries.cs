namespace EfficientViT.Reporting;

/// <summary>One named line of a chart: a value per point (e.g. per epoch).</summary>
/// <param name="Name">The legend's text.</param>
/// <param name="Values">The values in x order; NaN leaves a gap.</param>
public sealed record ChartSeries(string Name, IReadOnlyList<double> Values);
