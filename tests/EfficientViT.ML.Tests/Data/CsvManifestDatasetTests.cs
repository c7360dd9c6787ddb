using EfficientViT.ML.Data;

namespace EfficientViT.ML.Tests.Data;

public class CsvManifestDatasetTests
{
    [Fact]
    public void Relative_absolute_and_quoted_paths_load_with_labels_sorted_by_name()
    {
        using var dir = new TempDirectory();
        DataTestImages.WriteSolidPng(dir.File(Path.Combine("img", "one.png")), 2, 2, 9, 8, 7);
        var absolute = DataTestImages.WriteSolidPng(dir.File("two.png"), 3, 1, 1, 2, 3);
        DataTestImages.WriteSolidPng(dir.File(Path.Combine("img", "a,b.png")), 1, 1, 4, 5, 6);
        var csv = dir.File("manifest.csv");
        File.WriteAllLines(csv,
        [
            "path,label",
            "img/one.png,zebra",
            "",
            $"{absolute}, ant ",
            "\"img/a,b.png\",zebra",
        ]);

        var dataset = CsvManifestDataset.Load(csv);

        Assert.Equal(["ant", "zebra"], dataset.ClassNames);
        Assert.Equal(3, dataset.Count);
        Assert.Equal([1, 0, 1], Enumerable.Range(0, 3).Select(dataset.LabelOf));
        var first = dataset.Get(0);
        Assert.Equal(Path.Combine(dir.Path, "img", "one.png"), first.Source);
        Assert.Equal(new byte[] { 9, 8, 7 }, first.Pixels[..3]);
        Assert.Equal(absolute, dataset.PathOf(1));
        Assert.Equal(new byte[] { 4, 5, 6 }, dataset.Get(2).Pixels);
    }

    [Fact]
    public void A_line_with_a_missing_field_is_named_by_file_and_line()
    {
        using var dir = new TempDirectory();
        DataTestImages.WriteSolidPng(dir.File("one.png"), 2, 2, 9, 8, 7);
        var csv = dir.File("manifest.csv");
        File.WriteAllLines(csv, ["path,label", "one.png,cat", "one.png"]);

        var error = Assert.Throws<InvalidDataException>(() => CsvManifestDataset.Load(csv));
        Assert.Contains($"{csv}:3:", error.Message);
    }

    [Fact]
    public void A_listed_file_that_does_not_exist_is_named_with_its_line()
    {
        using var dir = new TempDirectory();
        DataTestImages.WriteSolidPng(dir.File("one.png"), 2, 2, 9, 8, 7);
        var csv = dir.File("manifest.csv");
        File.WriteAllLines(csv, ["path,label", "one.png,cat", "missing.png,dog"]);

        var error = Assert.Throws<FileNotFoundException>(() => CsvManifestDataset.Load(csv));
        Assert.Contains($"{csv}:3:", error.Message);
        Assert.Contains(dir.File("missing.png"), error.Message);
    }

    [Fact]
    public void A_header_without_a_label_column_is_named()
    {
        using var dir = new TempDirectory();
        var csv = dir.File("manifest.csv");
        File.WriteAllLines(csv, ["path,class", "one.png,cat"]);

        var error = Assert.Throws<InvalidDataException>(() => CsvManifestDataset.Load(csv));
        Assert.Contains($"{csv}:1:", error.Message);
        Assert.Contains("'label'", error.Message);
    }

    [Fact]
    public void An_unclosed_quote_is_named_by_line()
    {
        using var dir = new TempDirectory();
        var csv = dir.File("manifest.csv");
        File.WriteAllLines(csv, ["path,label", "\"one.png,cat"]);

        var error = Assert.Throws<InvalidDataException>(() => CsvManifestDataset.Load(csv));
        Assert.Contains($"{csv}:2:", error.Message);
    }

    [Fact]
    public void Corrupt_images_follow_the_policy()
    {
        using var dir = new TempDirectory();
        DataTestImages.WriteSolidPng(dir.File("one.png"), 2, 2, 9, 8, 7);
        DataTestImages.WriteSolidPng(dir.File("two.png"), 2, 2, 9, 8, 7);
        var bad = DataTestImages.WriteCorrupt(dir.File("bad.jpg"));
        var csv = dir.File("manifest.csv");
        File.WriteAllLines(csv, ["label,path", "cat,one.png", "cat,bad.jpg", "dog,two.png"]);

        var failing = CsvManifestDataset.Load(csv);
        Assert.Equal(3, failing.Count);
        Assert.Contains(bad, Assert.Throws<InvalidDataException>(() => failing.Get(1)).Message);

        var warnings = new List<string>();
        var skipping = CsvManifestDataset.Load(csv, CorruptImagePolicy.Skip, warnings.Add);
        Assert.Equal(2, skipping.Count);
        Assert.Equal([0, 1], Enumerable.Range(0, 2).Select(skipping.LabelOf));
        Assert.Contains(bad, Assert.Single(warnings));
        Assert.Equal([bad], skipping.SkippedPaths);
    }
}
