namespace EfficientViT.Reporting;

/// <summary>One panel of a line chart: a title, an x-axis label and its series.</summary>
/// <param name="Title">Shown above the panel.</param>
/// <param name="XLabel">Shown under the x axis.</param>
/// <param name="Series">The lines in the panel.</param>
public sealed record ChartPanel(string Title, string XLabel, IReadOnlyList<ChartSeries> Series);
