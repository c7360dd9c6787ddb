namespace EfficientViT.Reporting;

/// <summary>One panel of a line chart: a title, the axes' titles and its series.</summary>
/// <param name="Title">Shown above the panel.</param>
/// <param name="XLabel">The x axis's title, shown under it (the x axis counts points: 1, 2, 3...).</param>
/// <param name="Series">The lines in the panel.</param>
/// <param name="YLabel">The y axis's title, shown along it; none when empty.</param>
/// <param name="YPercent">The values are fractions (0.42) that the y axis labels as percentages (42%).</param>
/// <example>
/// <code>
/// var panel = new ChartPanel("validation accuracy", "epoch",
///     [new ChartSeries("top-1", [0.41, 0.55, 0.62])], YLabel: "accuracy", YPercent: true);
/// File.WriteAllText("accuracy.svg", SvgCharts.Lines([panel]));
/// </code>
/// </example>
public sealed record ChartPanel(string Title, string XLabel, IReadOnlyList<ChartSeries> Series, string YLabel = "", bool YPercent = false);
