namespace EfficientViT.ML.Checkpoints.Pretrained;

/// <summary>
/// The 1000 ImageNet-1k classes in the order of the official and timm classifiers' outputs, from the data file
/// <c>imagenet-1k-classes.tsv</c> shipped inside this assembly (its header names the source: timm's synset and
/// lemma lists).
/// </summary>
public static class ImageNetClasses
{
    private static readonly Lazy<(string[] Ids, string[] Names)> Table = new(Read);

    /// <summary>The WordNet synset ids (<c>n01440764</c> …), by class index.</summary>
    public static IReadOnlyList<string> SynsetIds => Table.Value.Ids;

    /// <summary>The class names (the synsets' lemmas, <c>tench, Tinca tinca</c> …), by class index.</summary>
    public static IReadOnlyList<string> Names => Table.Value.Names;

    private static (string[], string[]) Read()
    {
        using var stream = typeof(ImageNetClasses).Assembly.GetManifestResourceStream("EfficientViT.ML.imagenet-1k-classes.tsv")
            ?? throw new InvalidOperationException("EfficientViT.ML: the embedded imagenet-1k-classes.tsv is missing from the assembly.");
        using var reader = new StreamReader(stream);
        var ids = new List<string>(1000);
        var names = new List<string>(1000);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#')
                continue;
            var fields = line.Split('\t');
            if (fields.Length != 3 || fields[0] != ids.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))
                throw new InvalidOperationException($"EfficientViT.ML: imagenet-1k-classes.tsv, line of class {ids.Count}: expected 'index<TAB>synset<TAB>lemmas', found '{line}'.");
            ids.Add(fields[1]);
            names.Add(fields[2]);
        }
        if (ids.Count != 1000)
            throw new InvalidOperationException($"EfficientViT.ML: imagenet-1k-classes.tsv holds {ids.Count} classes, expected 1000.");
        return (ids.ToArray(), names.ToArray());
    }
}
