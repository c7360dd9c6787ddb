namespace EfficientViT.ML.Data;

/// <summary>
/// Images listed in a CSV file with the header <c>path,label</c> (other columns are ignored). Paths are
/// absolute or relative to the CSV file's folder; labels are class names, numbered in ordinal sort order.
/// Images are decoded to RGB when read.
/// </summary>
public sealed class CsvManifestDataset : ImageFileDataset
{
    private CsvManifestDataset(string csvPath, string[] classNames, List<(string Path, int Label)> files, List<string> skipped)
        : base(classNames, files, skipped)
    {
        CsvPath = csvPath;
    }

    /// <summary>The full path of the CSV file.</summary>
    public string CsvPath { get; }

    /// <summary>Reads the manifest and checks that every listed file exists.</summary>
    /// <param name="csvPath">The CSV file.</param>
    /// <param name="policy">
    /// <see cref="CorruptImagePolicy.Fail"/>: let reading a corrupt image throw.
    /// <see cref="CorruptImagePolicy.Skip"/>: decode every image now and drop the ones that fail.
    /// </param>
    /// <param name="warn">Receives one message per skipped file.</param>
    /// <exception cref="FileNotFoundException">The CSV file, or a file it lists, does not exist (the message gives the CSV line).</exception>
    /// <exception cref="InvalidDataException">The header lacks a column, or a line is malformed (the message gives the line).</exception>
    public static CsvManifestDataset Load(string csvPath, CorruptImagePolicy policy = CorruptImagePolicy.Fail, Action<string>? warn = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(csvPath);
        var csv = Path.GetFullPath(csvPath);
        if (!File.Exists(csv))
            throw new FileNotFoundException($"CSV manifest '{csv}' not found.", csv);
        var folder = Path.GetDirectoryName(csv)!;
        var lines = File.ReadAllLines(csv);

        var headerIndex = Array.FindIndex(lines, l => !string.IsNullOrWhiteSpace(l));
        if (headerIndex < 0)
            throw new InvalidDataException($"{csv}: the file is empty; expected a header line 'path,label'.");
        var header = Fields(lines[headerIndex], csv, headerIndex + 1).Select(f => f.Trim()).ToList();
        var pathColumn = Column(header, "path", csv, headerIndex + 1);
        var labelColumn = Column(header, "label", csv, headerIndex + 1);

        var rows = new List<(string Path, string Label)>();
        for (var i = headerIndex + 1; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i]))
                continue;
            var where = $"{csv}:{i + 1}";
            var fields = Fields(lines[i], csv, i + 1);
            if (fields.Count != header.Count)
                throw new InvalidDataException($"{where}: expected {header.Count} fields like the header, found {fields.Count}.");
            var path = fields[pathColumn].Trim();
            var label = fields[labelColumn].Trim();
            if (path.Length == 0)
                throw new InvalidDataException($"{where}: the path is empty.");
            if (label.Length == 0)
                throw new InvalidDataException($"{where}: the label is empty.");
            var full = Path.GetFullPath(path, folder);
            if (!File.Exists(full))
                throw new FileNotFoundException($"{where}: image file '{full}' does not exist.", full);
            rows.Add((full, label));
        }
        if (rows.Count == 0)
            throw new InvalidDataException($"{csv}: no images listed after the header.");

        var classNames = rows.Select(r => r.Label).Distinct().Order(StringComparer.Ordinal).ToArray();
        var labelOf = classNames.Select((name, index) => (name, index)).ToDictionary(p => p.name, p => p.index, StringComparer.Ordinal);
        var files = rows.Select(r => (r.Path, labelOf[r.Label])).ToList();

        var skipped = new List<string>();
        if (policy == CorruptImagePolicy.Skip)
        {
            files = ImageFiles.DropUnreadable(files, warn, skipped);
            var emptyClass = FirstEmptyClass(files, classNames.Length);
            if (emptyClass >= 0)
                throw new InvalidDataException($"{csv}: class '{classNames[emptyClass]}' has no readable images.");
        }
        return new CsvManifestDataset(csv, classNames, files, skipped);
    }

    private static List<string> Fields(string line, string csv, int lineNumber)
    {
        try
        {
            return CsvFields.Split(line);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"{csv}:{lineNumber}: {e.Message}.", e);
        }
    }

    private static int Column(List<string> header, string name, string csv, int lineNumber)
    {
        var index = header.FindIndex(h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));
        if (index < 0)
            throw new InvalidDataException($"{csv}:{lineNumber}: the header has no '{name}' column; expected 'path,label'.");
        return index;
    }
}
