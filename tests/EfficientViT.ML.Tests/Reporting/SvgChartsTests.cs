using System.Globalization;
using System.Xml.Linq;
using EfficientViT.ML.Training;
using EfficientViT.Reporting;

namespace EfficientViT.ML.Tests.Reporting;

public class SvgChartsTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    private static XElement Parse(string svg) => XDocument.Parse(svg).Root!;

    private static double Attribute(XElement element, string name) => double.Parse(element.Attribute(name)!.Value, CultureInfo.InvariantCulture);

    private static (double X, double Y)[] Points(XElement polyline) =>
        polyline.Attribute("points")!.Value.Split(' ')
            .Select(p => p.Split(','))
            .Select(p => (double.Parse(p[0], CultureInfo.InvariantCulture), double.Parse(p[1], CultureInfo.InvariantCulture)))
            .ToArray();

    [Fact]
    public void Lines_put_higher_values_higher_at_equal_x_steps_and_leave_gaps_for_NaN()
    {
        var root = Parse(SvgCharts.Lines([new ChartPanel("p", "epoch", [new ChartSeries("a", [1.0, 3.0, 2.0]), new ChartSeries("b", [double.NaN, 2.0, 2.5])])]));

        var lines = root.Descendants(Svg + "polyline").ToArray();
        Assert.Equal(2, lines.Length);
        var a = Points(lines[0]);
        Assert.Equal(3, a.Length);
        Assert.Equal(a[1].X - a[0].X, a[2].X - a[1].X, 6);
        // SVG's y grows downwards: 3 > 2 > 1 means y(3) < y(2) < y(1).
        Assert.True(a[1].Y < a[2].Y && a[2].Y < a[0].Y);
        var b = Points(lines[1]);
        Assert.Equal(2, b.Length);
        Assert.Equal(a[1].X, b[0].X, 6);
        // Both series share the panel's scale: the value 2 sits at the same height in both.
        Assert.Equal(a[2].Y, b[0].Y, 6);
    }

    [Fact]
    public void Training_curves_have_a_loss_panel_and_an_accuracy_panel()
    {
        var epochs = Enumerable.Range(0, 4).Select(e => new EpochSummary(e, 2.0 / (e + 1), 2.2 / (e + 1), 0.5 + 0.1 * e, 0.9, 1e-3, 100, 10)).ToArray();

        var root = Parse(SvgCharts.TrainingCurves(epochs));

        var texts = root.Descendants(Svg + "text").Select(t => t.Value).ToArray();
        Assert.Contains("loss", texts);
        Assert.Contains("validation accuracy", texts);
        Assert.Equal(4, root.Descendants(Svg + "polyline").Count());
        Assert.All(root.Descendants(Svg + "polyline"), line => Assert.Equal(4, Points(line).Length));
    }

    [Fact]
    public void Training_curves_number_the_epochs_and_show_accuracy_in_percent_with_a_grid_and_a_legend()
    {
        // Loss 0.5..2.2 and accuracy 0.5..0.9, each widened by 4 % of its range: ticks every 0.5 and every 10 %.
        var epochs = Enumerable.Range(0, 4).Select(e => new EpochSummary(e, 2.0 / (e + 1), 2.2 / (e + 1), 0.5 + 0.1 * e, 0.9, 1e-3, 100, 10)).ToArray();

        var root = Parse(SvgCharts.TrainingCurves(epochs));

        string[] Texts(string cls) => root.Descendants(Svg + "text").Where(t => (string?)t.Attribute("class") == cls).Select(t => t.Value).ToArray();
        // Both panels number the epochs 1 to 4, and nothing between them.
        Assert.Equal(new[] { "1", "2", "3", "4", "1", "2", "3", "4" }, Texts("x-tick"));
        Assert.Equal(new[] { "0.5", "1.0", "1.5", "2.0", "50%", "60%", "70%", "80%", "90%" }, Texts("y-tick"));
        Assert.Equal(new[] { "train", "validation", "top-1", "top-5" }, Texts("legend"));
        Assert.Equal(new[] { "epoch", "cross-entropy loss", "epoch", "accuracy" }, Texts("axis-title"));
        // A grid line per tick.
        Assert.Equal(8 + 9, root.Descendants(Svg + "line").Count(l => (string?)l.Attribute("class") == "grid"));
    }

    [Fact]
    public void Grid_lines_and_tick_labels_sit_where_their_values_are_drawn()
    {
        var root = Parse(SvgCharts.Lines([new ChartPanel("p", "run", [new ChartSeries("a", [0.37, 0.93, 0.5])])]));

        var points = Points(root.Descendants(Svg + "polyline").Single());
        var grid = root.Descendants(Svg + "line").Where(l => (string?)l.Attribute("class") == "grid").ToArray();
        // Vertical grid lines at x = 1, 2, 3 pass through the points.
        var vertical = grid.Where(l => Attribute(l, "x1") == Attribute(l, "x2")).Select(l => Attribute(l, "x1")).ToArray();
        Assert.Equal(points.Select(p => p.X), vertical);
        // Horizontal ones at 0.4 ... 0.9: their heights are linear in the value, and 0.93 lies just above 0.9.
        var horizontal = grid.Where(l => Attribute(l, "y1") == Attribute(l, "y2")).Select(l => Attribute(l, "y1")).ToArray();
        Assert.Equal(6, horizontal.Length);
        Assert.All(horizontal.Zip(horizontal.Skip(1)), pair => Assert.Equal(horizontal[0] - horizontal[1], pair.First - pair.Second, 0));
        Assert.True(points[1].Y < horizontal[5] && horizontal[5] - points[1].Y < (horizontal[4] - horizontal[5]) / 2);
    }

    [Fact]
    public void A_missing_value_in_the_middle_breaks_the_line()
    {
        var root = Parse(SvgCharts.Lines([new ChartPanel("p", "epoch", [new ChartSeries("a", [1.0, 2.0, double.NaN, 4.0, 5.0, double.NaN, 7.0])])]));

        var lines = root.Descendants(Svg + "polyline").Select(Points).ToArray();
        Assert.Equal(2, lines.Length);
        Assert.All(lines, line => Assert.Equal(2, line.Length));
        // The lone last value has no line but keeps its dot.
        Assert.Equal(5, root.Descendants(Svg + "circle").Count());
    }

    [Fact]
    public void Bars_are_as_long_as_their_values_and_names_are_escaped()
    {
        var root = Parse(SvgCharts.Bars("speed <img/s>", [("a & b", 100), ("c", 25), ("zero", 0)], "F0"));

        var bars = root.Descendants(Svg + "rect").Where(r => (string?)r.Attribute("class") == "bar").Select(r => Attribute(r, "width")).ToArray();
        Assert.Equal(3, bars.Length);
        Assert.Equal(4.0, bars[0] / bars[1], 2);
        Assert.Equal(0, bars[2]);
        var texts = root.Descendants(Svg + "text").Select(t => t.Value).ToArray();
        Assert.Contains("a & b", texts);
        Assert.Contains("speed <img/s>", texts);
        Assert.Contains("25", texts);
    }

    [Fact]
    public void Bars_refuse_negative_or_missing_values_naming_the_bar()
    {
        var error = Assert.Throws<ArgumentException>(() => SvgCharts.Bars("t", [("ok", 1), ("broken", double.NaN)]));
        Assert.Contains("'broken'", error.Message);
        Assert.Throws<ArgumentException>(() => SvgCharts.Bars("t", [("neg", -1)]));
        Assert.Throws<ArgumentException>(() => SvgCharts.Bars("t", []));
    }

    [Fact]
    public void Confusion_matrix_prints_every_count_and_shades_by_row_share()
    {
        double[][] counts = [[8, 2, 0], [1, 9, 0], [0, 0, 5]];

        var root = Parse(SvgCharts.ConfusionMatrix(counts, ["cat", "dog", "<bird>"]));

        var cells = root.Descendants(Svg + "rect").Where(r => (string?)r.Attribute("class") == "cell").ToArray();
        Assert.Equal(9, cells.Length);
        var texts = root.Descendants(Svg + "text").Select(t => t.Value).ToArray();
        foreach (var value in new[] { "8", "2", "9", "5" })
            Assert.Contains(value, texts);
        Assert.Contains("<bird>", texts);
        // A full row share is the darkest shade, an empty cell white.
        Assert.Equal("rgb(55,55,255)", cells[8].Attribute("fill")!.Value);
        Assert.Equal("rgb(255,255,255)", cells[2].Attribute("fill")!.Value);
    }

    [Fact]
    public void Confusion_matrix_from_a_2D_array_equals_the_jagged_form()
    {
        long[,] counts = { { 3, 1 }, { 0, 4 } };
        Assert.Equal(SvgCharts.ConfusionMatrix([[3.0, 1.0], [0.0, 4.0]], ["a", "b"]), SvgCharts.ConfusionMatrix(counts, ["a", "b"]));
    }

    [Fact]
    public void Confusion_matrix_refuses_tables_that_do_not_match_the_classes()
    {
        var error = Assert.Throws<ArgumentException>(() => SvgCharts.ConfusionMatrix([[1.0, 2.0], [3.0, 4.0]], ["only-one"]));
        Assert.Contains("1 class names", error.Message);
        Assert.Throws<ArgumentException>(() => SvgCharts.ConfusionMatrix([[1.0, 2.0], [3.0]], ["a", "b"]));
    }
}
