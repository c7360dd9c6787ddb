using System.Text;

namespace EfficientViT.ML.Data;

/// <summary>Splits one CSV line into fields (RFC 4180 quoting within a line: "a,b" and "" for a quote).</summary>
internal static class CsvFields
{
    /// <summary>The fields of <paramref name="line"/>, unquoted but otherwise untrimmed.</summary>
    /// <exception cref="FormatException">A quoted field is not closed, or text follows its closing quote.</exception>
    public static List<string> Split(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var i = 0;
        while (true)
        {
            field.Clear();
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length)
                        throw new FormatException("a quoted field is not closed (fields cannot span lines)");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"')
                        {
                            field.Append('"');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    field.Append(line[i++]);
                }
                if (i < line.Length && line[i] != ',')
                    throw new FormatException($"unexpected text after the closing quote at column {i + 1}");
            }
            else
            {
                while (i < line.Length && line[i] != ',')
                    field.Append(line[i++]);
            }

            fields.Add(field.ToString());
            if (i >= line.Length)
                return fields;
            i++; // the comma
        }
    }
}
