using System.Text;

namespace EfficientViT.Benchmarks;

/// <summary>A minimal table that renders as aligned plain text or as Markdown. Numbers are right-aligned.</summary>
internal sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> rows = new();

    public void AddRow(params string[] cells)
    {
        if (cells.Length != headers.Length)
            throw new ArgumentException($"Expected {headers.Length} cells, got {cells.Length}.");
        rows.Add(cells);
    }

    public string Render(bool markdown)
    {
        // A column is right-aligned when every body cell is a number (starts with a digit) or the '—' placeholder.
        var rightAligned = Enumerable.Range(0, headers.Length)
            .Select(c => rows.Count > 0 && rows.All(r => r[c].Length > 0 && (char.IsDigit(r[c][0]) || r[c] == "—")))
            .ToArray();
        var widths = Enumerable.Range(0, headers.Length)
            .Select(c => rows.Select(r => r[c].Length).Append(headers[c].Length).Append(3).Max())
            .ToArray();

        var text = new StringBuilder();
        if (markdown)
        {
            text.AppendLine(Line(headers, widths, rightAligned, "| ", " | ", " |"));
            text.AppendLine("|" + string.Join("|", widths.Select((w, c) => rightAligned[c] ? new string('-', w + 1) + ":" : new string('-', w + 2))) + "|");
            foreach (var row in rows)
                text.AppendLine(Line(row, widths, rightAligned, "| ", " | ", " |"));
        }
        else
        {
            text.AppendLine(Line(headers, widths, rightAligned, "", "  ", ""));
            text.AppendLine(string.Join("  ", widths.Select(w => new string('-', w))));
            foreach (var row in rows)
                text.AppendLine(Line(row, widths, rightAligned, "", "  ", ""));
        }
        return text.ToString();
    }

    private static string Line(string[] cells, int[] widths, bool[] rightAligned, string start, string separator, string end) =>
        (start + string.Join(separator, cells.Select((cell, c) => rightAligned[c] ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]))) + end).TrimEnd();
}
