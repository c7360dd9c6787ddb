using System.Globalization;
using System.Security;
using System.Text;
using EfficientViT.ML.Training;

namespace EfficientViT.Reporting;

/// <summary>
/// Small charts as SVG text, with no plotting dependency: training curves, bar charts and confusion
/// matrices. SVG shows in notebooks (<c>svg.DisplayAs("image/svg+xml")</c> in .NET Interactive), in
/// browsers and on code hosts, and writes to a file as it is.
/// </summary>
/// <example>
/// <code>
/// var result = trainer.Train(train, validation, trainTransform, evalTransform);
/// File.WriteAllText("curves.svg", SvgCharts.TrainingCurves(result.Epochs));
/// </code>
/// </example>
public static class SvgCharts
{
    private const int PanelWidth = 480, PanelHeight = 300, Margin = 45;
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

    /// <summary>Loss (train and validation) and validation accuracy per epoch, as two panels side by side.</summary>
    public static string TrainingCurves(IReadOnlyList<EpochSummary> epochs)
    {
        ArgumentNullException.ThrowIfNull(epochs);
        return Lines(
        [
            new ChartPanel("loss", "epoch",
            [
                new ChartSeries("train", epochs.Select(e => e.TrainLoss).ToArray()),
                new ChartSeries("validation", epochs.Select(e => e.ValidationLoss).ToArray()),
            ]),
            new ChartPanel("validation accuracy", "epoch",
            [
                new ChartSeries("top-1", epochs.Select(e => e.ValidationTop1).ToArray()),
                new ChartSeries("top-5", epochs.Select(e => e.ValidationTop5).ToArray()),
            ]),
        ]);
    }

    /// <summary>
    /// Line charts, one panel per <see cref="ChartPanel"/>, side by side; the x axis is the value's position
    /// (1-based). Non-finite values (NaN, infinities) leave a gap; a series with none finite is omitted.
    /// </summary>
    public static string Lines(IReadOnlyList<ChartPanel> panels)
    {
        ArgumentNullException.ThrowIfNull(panels);
        if (panels.Count == 0)
            throw new ArgumentException("A chart needs at least one panel.", nameof(panels));
        var svg = Open(PanelWidth * panels.Count, PanelHeight);
        for (var p = 0; p < panels.Count; p++)
        {
            var panel = panels[p];
            var x0 = p * PanelWidth;
            Frame(svg, x0, panel.Title, panel.XLabel);
            var values = panel.Series.SelectMany(s => s.Values).Where(double.IsFinite).ToArray();
            if (values.Length == 0)
                continue;
            var (min, max) = Range(values.Min(), values.Max());
            var count = panel.Series.Max(s => s.Values.Count);
            double X(int i) => x0 + Margin + (count <= 1 ? (PanelWidth - 2 * Margin) / 2.0 : i * (PanelWidth - 2 * Margin) / (double)(count - 1));
            double Y(double v) => PanelHeight - Margin - (v - min) / (max - min) * (PanelHeight - 2 * Margin);
            AxisLabels(svg, x0, min, max, $"1–{count}");
            for (var s = 0; s < panel.Series.Count; s++)
            {
                var series = panel.Series[s];
                var color = Colors[s % Colors.Length];
                var points = series.Values.Select((v, i) => (v, i)).Where(t => double.IsFinite(t.v)).ToArray();
                if (points.Length == 0)
                    continue;
                svg.AppendLine(Invariant($"<polyline class=\"series\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{string.Join(" ", points.Select(t => Invariant($"{X(t.i):F1},{Y(t.v):F1}")))}\"/>"));
                foreach (var (v, i) in points)
                    svg.AppendLine(Invariant($"<circle cx=\"{X(i):F1}\" cy=\"{Y(v):F1}\" r=\"2.5\" fill=\"{color}\"><title>{Escape(series.Name)} {i + 1}: {v:G4}</title></circle>"));
                svg.AppendLine(Invariant($"<text x=\"{x0 + Margin + 8}\" y=\"{Margin + 16 + 14 * s}\" fill=\"{color}\">{Escape(series.Name)}</text>"));
            }
        }
        return Close(svg);
    }

    /// <summary>A horizontal bar chart: one labelled bar per value, its value printed at its end.</summary>
    /// <param name="title">The chart's title.</param>
    /// <param name="bars">Labels and values; values must be finite and not negative.</param>
    /// <param name="valueFormat">How values are printed (a .NET format string, e.g. <c>"P1"</c> or <c>"F0"</c>).</param>
    public static string Bars(string title, IReadOnlyList<(string Label, double Value)> bars, string valueFormat = "G4")
    {
        ArgumentNullException.ThrowIfNull(bars);
        if (bars.Count == 0)
            throw new ArgumentException("A bar chart needs at least one bar.", nameof(bars));
        foreach (var (label, value) in bars)
            if (!double.IsFinite(value) || value < 0)
                throw new ArgumentException($"Bar '{label}' has value {value}; bars show finite values of 0 or more.", nameof(bars));
        const int labelWidth = 260, barArea = 360, rowHeight = 26, top = 34;
        var width = labelWidth + barArea + 90;
        var height = top + rowHeight * bars.Count + 12;
        var max = Math.Max(bars.Max(b => b.Value), 1e-12);
        var svg = Open(width, height);
        svg.AppendLine(Invariant($"<text x=\"{width / 2}\" y=\"20\" text-anchor=\"middle\" font-size=\"13\">{Escape(title)}</text>"));
        for (var i = 0; i < bars.Count; i++)
        {
            var (label, value) = bars[i];
            var y = top + i * rowHeight;
            var length = value / max * barArea;
            svg.AppendLine(Invariant($"<text x=\"{labelWidth - 8}\" y=\"{y + 16}\" text-anchor=\"end\">{Escape(label)}</text>"));
            svg.AppendLine(Invariant($"<rect class=\"bar\" x=\"{labelWidth}\" y=\"{y + 3}\" width=\"{length:F1}\" height=\"{rowHeight - 6}\" fill=\"{Colors[i % Colors.Length]}\"/>"));
            svg.AppendLine(Invariant($"<text x=\"{labelWidth + length + 6:F1}\" y=\"{y + 16}\">{Escape(value.ToString(valueFormat, CultureInfo.InvariantCulture))}</text>"));
        }
        return Close(svg);
    }

    /// <summary>
    /// A confusion matrix as a heat map: rows are the true classes, columns the predicted ones, each cell
    /// shaded by its share of the row and printed with its count. Takes ML.NET's
    /// <c>MulticlassClassificationMetrics.ConfusionMatrix.Counts</c> as it is.
    /// </summary>
    /// <param name="counts">counts[truth][prediction].</param>
    /// <param name="classNames">One name per class, in the order of <paramref name="counts"/>.</param>
    /// <param name="title">The chart's title.</param>
    public static string ConfusionMatrix(IReadOnlyList<IReadOnlyList<double>> counts, IReadOnlyList<string> classNames, string title = "confusion matrix")
    {
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(classNames);
        var n = counts.Count;
        if (n == 0 || classNames.Count != n || counts.Any(row => row.Count != n))
            throw new ArgumentException(
                $"A confusion matrix needs a square table with one row and one column per class: {classNames.Count} class names, " +
                $"{n} rows of {string.Join("/", counts.Select(r => r.Count).Distinct())} columns.", nameof(counts));
        const int cell = 44, left = 120, top = 60;
        var width = left + cell * n + 70;
        var height = top + cell * n + 20;
        var svg = Open(width, height);
        svg.AppendLine(Invariant($"<text x=\"{width / 2}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">{Escape(title)} (rows: truth, columns: prediction)</text>"));
        for (var j = 0; j < n; j++)
            svg.AppendLine(Invariant($"<text x=\"{left + j * cell + cell / 2}\" y=\"{top - 6}\" text-anchor=\"start\" transform=\"rotate(-35 {left + j * cell + cell / 2} {top - 6})\">{Escape(classNames[j])}</text>"));
        for (var i = 0; i < n; i++)
        {
            var rowTotal = counts[i].Sum();
            svg.AppendLine(Invariant($"<text x=\"{left - 6}\" y=\"{top + i * cell + cell / 2 + 4}\" text-anchor=\"end\">{Escape(classNames[i])}</text>"));
            for (var j = 0; j < n; j++)
            {
                var share = rowTotal > 0 ? counts[i][j] / rowTotal : 0;
                var shade = (int)Math.Round(255 - share * 200);
                var fill = i == j ? Invariant($"rgb({shade},{shade},255)") : Invariant($"rgb(255,{shade},{shade})");
                svg.AppendLine(Invariant($"<rect class=\"cell\" x=\"{left + j * cell}\" y=\"{top + i * cell}\" width=\"{cell}\" height=\"{cell}\" fill=\"{fill}\" stroke=\"#fff\"/>"));
                var ink = share > 0.6 ? "#fff" : "#000";
                svg.AppendLine(Invariant($"<text x=\"{left + j * cell + cell / 2}\" y=\"{top + i * cell + cell / 2 + 4}\" text-anchor=\"middle\" fill=\"{ink}\">{counts[i][j]:G6}</text>"));
            }
        }
        return Close(svg);
    }

    /// <summary>The same as <see cref="ConfusionMatrix(IReadOnlyList{IReadOnlyList{double}}, IReadOnlyList{string}, string)"/> for this library's <see cref="ClassificationMetrics.ConfusionMatrix"/>.</summary>
    public static string ConfusionMatrix(long[,] counts, IReadOnlyList<string> classNames, string title = "confusion matrix")
    {
        ArgumentNullException.ThrowIfNull(counts);
        var rows = Enumerable.Range(0, counts.GetLength(0))
            .Select(i => (IReadOnlyList<double>)Enumerable.Range(0, counts.GetLength(1)).Select(j => (double)counts[i, j]).ToArray())
            .ToArray();
        return ConfusionMatrix(rows, classNames, title);
    }

    private static StringBuilder Open(int width, int height) =>
        new StringBuilder().AppendLine(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">"))
            .AppendLine(Invariant($"<rect width=\"{width}\" height=\"{height}\" fill=\"#fff\"/>"));

    private static string Close(StringBuilder svg) => svg.AppendLine("</svg>").ToString();

    private static void Frame(StringBuilder svg, int x0, string title, string xLabel)
    {
        svg.AppendLine(Invariant($"<text x=\"{x0 + PanelWidth / 2}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">{Escape(title)}</text>"));
        svg.AppendLine(Invariant($"<rect x=\"{x0 + Margin}\" y=\"{Margin}\" width=\"{PanelWidth - 2 * Margin}\" height=\"{PanelHeight - 2 * Margin}\" fill=\"none\" stroke=\"#999\"/>"));
        svg.AppendLine(Invariant($"<text x=\"{x0 + PanelWidth / 2}\" y=\"{PanelHeight - 12}\" text-anchor=\"middle\">{Escape(xLabel)}</text>"));
    }

    private static void AxisLabels(StringBuilder svg, int x0, double min, double max, string xRange)
    {
        svg.AppendLine(Invariant($"<text x=\"{x0 + 4}\" y=\"{Margin + 4}\">{max:G4}</text><text x=\"{x0 + 4}\" y=\"{PanelHeight - Margin}\">{min:G4}</text>"));
        svg.AppendLine(Invariant($"<text x=\"{x0 + PanelWidth - Margin}\" y=\"{PanelHeight - Margin + 14}\" text-anchor=\"end\">{xRange}</text>"));
    }

    // A flat series still needs a visible range.
    private static (double Min, double Max) Range(double min, double max) => max - min < 1e-12 ? (min - 0.5, max + 0.5) : (min, max);

    private static string Escape(string text) => SecurityElement.Escape(text) ?? "";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
