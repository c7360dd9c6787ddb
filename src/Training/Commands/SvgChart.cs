using System.Globalization;
using System.Text;

namespace EfficientViT.Training.Commands;

/// <summary>A small line chart written as SVG (no plotting dependency): one panel per metric, epochs on x.</summary>
internal static class SvgChart
{
    public static void Write(string path, IReadOnlyList<(string Title, IReadOnlyList<(string Name, double[] Values)> Series)> panels)
    {
        const int width = 480, height = 300, margin = 45;
        string[] colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
        var svg = new StringBuilder();
        svg.AppendLine(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width * panels.Count}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">"));
        for (var p = 0; p < panels.Count; p++)
        {
            var (title, series) = panels[p];
            var x0 = p * width;
            var values = series.SelectMany(s => s.Values).Where(double.IsFinite).ToArray();
            if (values.Length == 0)
                continue;
            var (min, max) = (values.Min(), values.Max());
            if (max - min < 1e-12) { min -= 0.5; max += 0.5; }
            var count = series.Max(s => s.Values.Length);
            double X(int i) => x0 + margin + (count <= 1 ? 0 : i * (width - 2 * margin) / (double)(count - 1));
            double Y(double v) => height - margin - (v - min) / (max - min) * (height - 2 * margin);
            svg.AppendLine(Invariant($"<text x=\"{x0 + width / 2}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">{title}</text>"));
            svg.AppendLine(Invariant($"<rect x=\"{x0 + margin}\" y=\"{margin}\" width=\"{width - 2 * margin}\" height=\"{height - 2 * margin}\" fill=\"none\" stroke=\"#999\"/>"));
            svg.AppendLine(Invariant($"<text x=\"{x0 + 4}\" y=\"{margin + 4}\">{max:G4}</text><text x=\"{x0 + 4}\" y=\"{height - margin}\">{min:G4}</text>"));
            svg.AppendLine(Invariant($"<text x=\"{x0 + width / 2}\" y=\"{height - 12}\" text-anchor=\"middle\">epoch (1–{count})</text>"));
            for (var s = 0; s < series.Count; s++)
            {
                var points = string.Join(" ", series[s].Values.Select((v, i) => (v, i)).Where(t => double.IsFinite(t.v)).Select(t => Invariant($"{X(t.i):F1},{Y(t.v):F1}")));
                svg.AppendLine(Invariant($"<polyline fill=\"none\" stroke=\"{colors[s % colors.Length]}\" stroke-width=\"2\" points=\"{points}\"/>"));
                svg.AppendLine(Invariant($"<text x=\"{x0 + margin + 8}\" y=\"{margin + 16 + 14 * s}\" fill=\"{colors[s % colors.Length]}\">{series[s].Name}</text>"));
            }
        }
        svg.AppendLine("</svg>");
        EfficientViT.ML.Checkpoints.AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(svg.ToString())));
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
