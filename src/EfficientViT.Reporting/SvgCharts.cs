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
/// <remarks>
/// Written by hand rather than with a plotting library: ScottPlot 5 depends on SkiaSharp 3, which would
/// replace the SkiaSharp 2.88 that ML.NET's ImageAnalytics is built against in the same process.
/// </remarks>
/// <example>
/// <code>
/// var result = trainer.Train(train, validation, trainTransform, evalTransform);
/// File.WriteAllText("curves.svg", SvgCharts.TrainingCurves(result.Epochs));
/// </code>
/// </example>
public static class SvgCharts
{
    private const int PanelWidth = 480, PanelHeight = 320;
    // Room around a panel's plot area: title and legend above; tick labels and axis titles left and below.
    private const int PlotLeft = 66, PlotRight = 16, PlotTop = 50, PlotBottom = 48;
    // Tick counts that leave room for their labels on a 400 x 220 plot area.
    private const int MaxXTicks = 10, MaxYTicks = 6;
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

    /// <summary>
    /// Loss (train and validation) and validation accuracy (top-1 and top-5, in percent) per epoch, as two
    /// panels side by side; the x axes are numbered by epoch.
    /// </summary>
    /// <example>
    /// <code>
    /// File.WriteAllText("curves.svg", SvgCharts.TrainingCurves(result.Epochs));
    /// </code>
    /// </example>
    public static string TrainingCurves(IReadOnlyList<EpochSummary> epochs)
    {
        ArgumentNullException.ThrowIfNull(epochs);
        return Lines(
        [
            new ChartPanel("loss", "epoch",
            [
                new ChartSeries("train", epochs.Select(e => e.TrainLoss).ToArray()),
                new ChartSeries("validation", epochs.Select(e => e.ValidationLoss).ToArray()),
            ], YLabel: "cross-entropy loss"),
            new ChartPanel("validation accuracy", "epoch",
            [
                new ChartSeries("top-1", epochs.Select(e => e.ValidationTop1).ToArray()),
                new ChartSeries("top-5", epochs.Select(e => e.ValidationTop5).ToArray()),
            ], YLabel: "accuracy", YPercent: true),
        ]);
    }

    /// <summary>
    /// Line charts, one panel per <see cref="ChartPanel"/>, side by side, each with round-number ticks, grid
    /// lines, axis titles and a legend. The x axis is the value's position (1-based), ticked at whole numbers
    /// only. Non-finite values (NaN, infinities) break a line; a series with none finite is omitted.
    /// </summary>
    /// <example>
    /// <code>
    /// var svg = SvgCharts.Lines([new ChartPanel("throughput", "run", [new ChartSeries("images/s", [812, 790, 835])], YLabel: "images/s")]);
    /// </code>
    /// </example>
    public static string Lines(IReadOnlyList<ChartPanel> panels)
    {
        ArgumentNullException.ThrowIfNull(panels);
        if (panels.Count == 0)
            throw new ArgumentException("A chart needs at least one panel.", nameof(panels));
        var svg = Open(PanelWidth * panels.Count, PanelHeight);
        for (var p = 0; p < panels.Count; p++)
            LinePanel(svg, p * PanelWidth, panels[p]);
        return Close(svg);
    }

    /// <summary>A horizontal bar chart: one labelled bar per value, its value printed at its end.</summary>
    /// <param name="title">The chart's title.</param>
    /// <param name="bars">Labels and values; values must be finite and not negative.</param>
    /// <param name="valueFormat">How values are printed (a .NET format string, e.g. <c>"P1"</c> or <c>"F0"</c>).</param>
    /// <example>
    /// <code>
    /// var svg = SvgCharts.Bars("test accuracy", [("EfficientViT-M0", 0.912), ("ResNet18", 0.874)], "P1");
    /// </code>
    /// </example>
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
    /// <example>
    /// <code>
    /// var metrics = mlContext.MulticlassClassification.Evaluate(predictions);
    /// var svg = SvgCharts.ConfusionMatrix(metrics.ConfusionMatrix.Counts, classNames);
    /// </code>
    /// </example>
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

    private static void LinePanel(StringBuilder svg, int x0, ChartPanel panel)
    {
        double left = x0 + PlotLeft, right = x0 + PanelWidth - PlotRight, top = PlotTop, bottom = PanelHeight - PlotBottom;
        svg.AppendLine(Invariant($"<text x=\"{x0 + PanelWidth / 2}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">{Escape(panel.Title)}</text>"));
        svg.AppendLine(Invariant($"<text class=\"axis-title\" x=\"{(left + right) / 2:F1}\" y=\"{PanelHeight - 10}\" text-anchor=\"middle\">{Escape(panel.XLabel)}</text>"));
        if (panel.YLabel.Length > 0)
            svg.AppendLine(Invariant($"<text class=\"axis-title\" x=\"{x0 + 14}\" y=\"{(top + bottom) / 2:F1}\" text-anchor=\"middle\" transform=\"rotate(-90 {x0 + 14} {(top + bottom) / 2:F1})\">{Escape(panel.YLabel)}</text>"));
        void Frame() => svg.AppendLine(Invariant($"<rect x=\"{left}\" y=\"{top}\" width=\"{right - left}\" height=\"{bottom - top}\" fill=\"none\" stroke=\"#999\"/>"));
        var values = panel.Series.SelectMany(s => s.Values).Where(double.IsFinite).ToArray();
        if (values.Length == 0)
        {
            Frame();
            return;
        }
        var count = panel.Series.Max(s => s.Values.Count);
        var (xMin, xMax) = Padded(1, count, 0.5);
        var (yMin, yMax) = Padded(values.Min(), values.Max(), values.Max() == 0 ? 0.5 : Math.Abs(values.Max()) * 0.05);
        double X(int i) => left + (i + 1 - xMin) / (xMax - xMin) * (right - left);
        double Y(double v) => bottom - (v - yMin) / (yMax - yMin) * (bottom - top);
        string Exact(double v) => v.ToString(panel.YPercent ? "P2" : "G4", CultureInfo.InvariantCulture);

        // Grid first, so that lines and points are drawn over it.
        var xTicks = AxisTicks.Nice(1, count, MaxXTicks, integers: true);
        foreach (var tick in xTicks.Values)
        {
            var x = X((int)tick - 1);
            svg.AppendLine(Invariant($"<line class=\"grid\" x1=\"{x:F1}\" y1=\"{top}\" x2=\"{x:F1}\" y2=\"{bottom + 4}\" stroke=\"#e6e6e6\"/>"));
            svg.AppendLine(Invariant($"<text class=\"x-tick\" x=\"{x:F1}\" y=\"{bottom + 16}\" text-anchor=\"middle\">{xTicks.Label(tick, percent: false)}</text>"));
        }
        var yTicks = AxisTicks.Nice(yMin, yMax, MaxYTicks);
        foreach (var tick in yTicks.Values)
        {
            var y = Y(tick);
            svg.AppendLine(Invariant($"<line class=\"grid\" x1=\"{left - 4}\" y1=\"{y:F1}\" x2=\"{right}\" y2=\"{y:F1}\" stroke=\"#e6e6e6\"/>"));
            svg.AppendLine(Invariant($"<text class=\"y-tick\" x=\"{left - 7}\" y=\"{y + 4:F1}\" text-anchor=\"end\">{yTicks.Label(tick, panel.YPercent)}</text>"));
        }
        Frame();

        var legendX = left;
        for (var s = 0; s < panel.Series.Count; s++)
        {
            var series = panel.Series[s];
            var color = Colors[s % Colors.Length];
            var points = series.Values.Select((v, i) => (v, i)).Where(t => double.IsFinite(t.v)).ToArray();
            if (points.Length == 0)
                continue;
            // One polyline per run of finite values: a missing value is a gap, not a straight line across it.
            // A run of one point has no line; its dot shows it.
            foreach (var run in Runs(points).Where(run => run.Length > 1))
                svg.AppendLine(Invariant($"<polyline class=\"series\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{string.Join(" ", run.Select(t => Invariant($"{X(t.i):F1},{Y(t.v):F1}")))}\"/>"));
            foreach (var (v, i) in points)
                svg.AppendLine(Invariant($"<circle cx=\"{X(i):F1}\" cy=\"{Y(v):F1}\" r=\"2.5\" fill=\"{color}\"><title>{Escape(series.Name)} {i + 1}: {Exact(v)}</title></circle>"));
            // The legend is a row above the plot area, where it cannot cover the lines.
            svg.AppendLine(Invariant($"<line class=\"legend\" x1=\"{legendX:F1}\" y1=\"{PlotTop - 14}\" x2=\"{legendX + 16:F1}\" y2=\"{PlotTop - 14}\" stroke=\"{color}\" stroke-width=\"2\"/>"));
            svg.AppendLine(Invariant($"<text class=\"legend\" x=\"{legendX + 20:F1}\" y=\"{PlotTop - 10}\">{Escape(series.Name)}</text>"));
            // SVG cannot measure text; 6.5 px a character is wide enough for 11 px sans-serif.
            legendX += 20 + 6.5 * series.Name.Length + 14;
        }
    }

    // The points split where their indices skip (where non-finite values were).
    private static IEnumerable<(double v, int i)[]> Runs((double v, int i)[] points)
    {
        var start = 0;
        for (var k = 1; k <= points.Length; k++)
            if (k == points.Length || points[k].i != points[k - 1].i + 1)
            {
                yield return points[start..k];
                start = k;
            }
    }

    // A margin of 4 % of the range on each side keeps the end points off the frame; a flat series (or a
    // single point) gets flatMargin on each side instead, as it still needs a visible range.
    private static (double Min, double Max) Padded(double min, double max, double flatMargin)
    {
        var margin = max - min < 1e-12 ? flatMargin : (max - min) * 0.04;
        return (min - margin, max + margin);
    }

    private static string Escape(string text) => SecurityElement.Escape(text) ?? "";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
