using EfficientViT.ML.Data;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.Data;

public class ImageFolderExportTests
{
    [Fact]
    public void Grayscale_samples_become_opaque_RGBA_with_equal_channels()
    {
        var sample = new ImageSample([0, 50, 100, 150, 200, 250], 3, 2, 1, 0, "gray");

        using var image = sample.ToMLImage();

        Assert.Equal(MLPixelFormat.Rgba32, image.PixelFormat);
        var pixels = image.Pixels.ToArray();
        for (var i = 0; i < 6; i++)
            Assert.Equal(new byte[] { sample.Pixels[i], sample.Pixels[i], sample.Pixels[i], 255 }, pixels[(i * 4)..(i * 4 + 4)]);
    }

    [Fact]
    public void RGB_samples_keep_their_channel_order()
    {
        var sample = new ImageSample([10, 20, 30, 40, 50, 60], 2, 1, 3, 0, "rgb");

        using var image = sample.ToMLImage();

        Assert.Equal(new byte[] { 10, 20, 30, 255, 40, 50, 60, 255 }, image.Pixels.ToArray());
    }

    [Fact]
    public void Exported_folder_loads_back_with_the_same_classes_labels_and_pixels()
    {
        using var dir = new TempDirectory();
        var source = InMemoryDataset.WithLabels([0, 1, 2, 1, 0, 2], classes: 3, channels: 1);
        var root = Path.Combine(dir.Path, "export");

        var exported = ImageFolderDataset.Export(source, root, indices: [0, 1, 2, 3]);

        Assert.Equal(source.ClassNames, exported.ClassNames);
        Assert.Equal(4, exported.Count);
        Assert.Equal(4, Directory.GetFiles(root, "*.png", SearchOption.AllDirectories).Length);
        for (var i = 0; i < exported.Count; i++)
        {
            var index = int.Parse(Path.GetFileNameWithoutExtension(exported.PathOf(i)), System.Globalization.CultureInfo.InvariantCulture);
            var original = source.Get(index);
            var loaded = exported.Get(i);
            Assert.Equal(original.Label, loaded.Label);
            // PNG is lossless; the folder decodes to RGB, so each gray value appears three times.
            Assert.Equal(original.Pixels.SelectMany(v => new[] { v, v, v }).ToArray(), loaded.Pixels);
        }
    }

    [Fact]
    public void Export_refuses_a_choice_that_leaves_a_class_empty_naming_it()
    {
        using var dir = new TempDirectory();
        var source = InMemoryDataset.WithLabels([0, 1, 2], classes: 3);

        var error = Assert.Throws<InvalidDataException>(() => ImageFolderDataset.Export(source, Path.Combine(dir.Path, "x"), indices: [0, 2]));

        Assert.Contains("'class1'", error.Message);
    }

    [Fact]
    public void LoadFromImageFolder_lists_paths_and_class_names_in_the_named_columns()
    {
        using var dir = new TempDirectory();
        var root = Path.Combine(dir.Path, "images");
        DataTestImages.WriteSolidPng(Path.Combine(root, "cat", "a.png"), 4, 4, 1, 2, 3);
        DataTestImages.WriteSolidPng(Path.Combine(root, "cat", "b.jpg"), 4, 4, 1, 2, 3);
        DataTestImages.WriteSolidPng(Path.Combine(root, "dog", "c.png"), 4, 4, 1, 2, 3);
        var mlContext = new MLContext(seed: 0);

        var data = mlContext.Data.LoadFromImageFolder(root, imagePathColumnName: "Path", labelColumnName: "Class");

        Assert.Equal(TextDataViewType.Instance, data.Schema["Path"].Type);
        Assert.Equal(TextDataViewType.Instance, data.Schema["Class"].Type);
        var paths = data.GetColumn<string>("Path").ToArray();
        var labels = data.GetColumn<string>("Class").ToArray();
        Assert.Equal(["cat", "cat", "dog"], labels);
        Assert.All(paths, path => Assert.True(Path.IsPathRooted(path) && File.Exists(path), path));
        Assert.EndsWith(Path.Combine("dog", "c.png"), paths[2]);
    }

    [Fact]
    public void LoadFromImageFolder_refuses_one_name_for_both_columns_and_a_missing_folder()
    {
        var mlContext = new MLContext(seed: 0);
        Assert.Throws<ArgumentException>(() => mlContext.Data.LoadFromImageFolder("/tmp", "X", "X"));
        var error = Assert.Throws<DirectoryNotFoundException>(() => mlContext.Data.LoadFromImageFolder("/no/such/folder"));
        Assert.Contains("/no/such/folder", error.Message);
    }
}
