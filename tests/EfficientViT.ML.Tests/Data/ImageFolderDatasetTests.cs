using EfficientViT.ML.Data;

namespace EfficientViT.ML.Tests.Data;

public class ImageFolderDatasetTests
{
    /// <summary>root/cat/{a.png, b.PNG}, root/dog/{c.png, notes.txt}, and optionally root/dog/d-bad.png (corrupt).</summary>
    private static string MakeFolder(TempDirectory dir, bool withCorrupt)
    {
        var root = Path.Combine(dir.Path, "images");
        DataTestImages.WriteSolidPng(Path.Combine(root, "cat", "a.png"), 5, 4, 10, 20, 30);
        DataTestImages.WriteSolidPng(Path.Combine(root, "cat", "b.PNG"), 3, 3, 200, 100, 50);
        DataTestImages.WriteSolidPng(Path.Combine(root, "dog", "c.png"), 2, 6, 0, 255, 7);
        File.WriteAllText(Path.Combine(root, "dog", "notes.txt"), "not an image");
        if (withCorrupt)
            DataTestImages.WriteCorrupt(Path.Combine(root, "dog", "d-bad.png"));
        return root;
    }

    [Fact]
    public void Class_folders_give_labels_in_ordinal_order_and_images_decode_to_RGB()
    {
        using var dir = new TempDirectory();
        var root = MakeFolder(dir, withCorrupt: false);

        var dataset = ImageFolderDataset.Load(root);

        Assert.Equal(["cat", "dog"], dataset.ClassNames);
        Assert.Equal(3, dataset.Count);
        Assert.Equal([0, 0, 1], Enumerable.Range(0, 3).Select(dataset.LabelOf));
        var a = dataset.Get(0);
        Assert.Equal(Path.Combine(root, "cat", "a.png"), a.Source);
        Assert.Equal((5, 4, 3), (a.Width, a.Height, a.Channels));
        Assert.Equal(Enumerable.Repeat(new byte[] { 10, 20, 30 }, 20).SelectMany(p => p), a.Pixels);
        Assert.Equal(Path.Combine(root, "cat", "b.PNG"), dataset.PathOf(1));
        var c = dataset.Get(2);
        Assert.Equal(1, c.Label);
        Assert.Equal(new byte[] { 0, 255, 7 }, c.Pixels[..3]);
    }

    [Fact]
    public void With_the_fail_policy_reading_a_corrupt_image_throws_naming_it()
    {
        using var dir = new TempDirectory();
        var root = MakeFolder(dir, withCorrupt: true);

        var dataset = ImageFolderDataset.Load(root, CorruptImagePolicy.Fail);

        Assert.Equal(4, dataset.Count);
        var bad = Path.Combine(root, "dog", "d-bad.png");
        Assert.Equal(bad, dataset.PathOf(3));
        var error = Assert.Throws<InvalidDataException>(() => dataset.Get(3));
        Assert.Contains(bad, error.Message);
    }

    [Fact]
    public void With_the_skip_policy_a_corrupt_image_is_dropped_and_reported()
    {
        using var dir = new TempDirectory();
        var root = MakeFolder(dir, withCorrupt: true);
        var warnings = new List<string>();

        var dataset = ImageFolderDataset.Load(root, CorruptImagePolicy.Skip, warnings.Add);

        var bad = Path.Combine(root, "dog", "d-bad.png");
        Assert.Equal(3, dataset.Count);
        Assert.Equal([bad], dataset.SkippedPaths);
        Assert.Contains(bad, Assert.Single(warnings));
        Assert.All(Enumerable.Range(0, dataset.Count), i => dataset.Get(i));
    }

    [Fact]
    public void A_missing_root_is_named()
    {
        using var dir = new TempDirectory();
        var root = Path.Combine(dir.Path, "nowhere");
        var error = Assert.Throws<DirectoryNotFoundException>(() => ImageFolderDataset.Load(root));
        Assert.Contains(root, error.Message);
    }

    [Fact]
    public void A_root_without_class_folders_is_named()
    {
        using var dir = new TempDirectory();
        DataTestImages.WriteSolidPng(dir.File("loose.png"), 2, 2, 1, 2, 3);
        var error = Assert.Throws<InvalidDataException>(() => ImageFolderDataset.Load(dir.Path));
        Assert.Contains(dir.Path, error.Message);
        Assert.Contains("no class folders", error.Message);
    }

    [Fact]
    public void A_class_folder_without_images_is_named()
    {
        using var dir = new TempDirectory();
        DataTestImages.WriteSolidPng(dir.File(Path.Combine("cat", "a.jpg")), 2, 2, 1, 2, 3);
        var empty = Directory.CreateDirectory(dir.File("dog")).FullName;
        File.WriteAllText(Path.Combine(empty, "readme.md"), "no images here");

        var error = Assert.Throws<InvalidDataException>(() => ImageFolderDataset.Load(dir.Path));
        Assert.Contains(empty, error.Message);
    }

    [Fact]
    public void A_class_whose_images_are_all_corrupt_is_named_when_skipping()
    {
        using var dir = new TempDirectory();
        DataTestImages.WriteSolidPng(dir.File(Path.Combine("cat", "a.png")), 2, 2, 1, 2, 3);
        DataTestImages.WriteCorrupt(dir.File(Path.Combine("dog", "b.png")));

        var error = Assert.Throws<InvalidDataException>(() => ImageFolderDataset.Load(dir.Path, CorruptImagePolicy.Skip));
        Assert.Contains(dir.File("dog"), error.Message);
    }
}
