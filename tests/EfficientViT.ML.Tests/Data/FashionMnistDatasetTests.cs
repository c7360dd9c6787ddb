using System.IO.Compression;
using EfficientViT.ML.Data;

namespace EfficientViT.ML.Tests.Data;

public class FashionMnistDatasetTests
{
    private const int Count = 5, Rows = 3, Cols = 4;

    private static (byte[] Images, byte[] Labels) TinyData()
    {
        var images = new byte[Count * Rows * Cols];
        for (var i = 0; i < images.Length; i++)
            images[i] = (byte)(i * 7 % 256);
        return (images, [3, 0, 9, 3, 1]);
    }

    private static (string Images, string Labels) Paths(TempDirectory dir, FashionMnistSplit split)
    {
        var (images, labels) = FashionMnistDataset.FileNames(split);
        return (dir.File(images), dir.File(labels));
    }

    [Fact]
    public void Files_written_by_WriteIdx_load_back()
    {
        using var dir = new TempDirectory();
        var (images, labels) = TinyData();
        var (imagesPath, labelsPath) = Paths(dir, FashionMnistSplit.Test);
        FashionMnistDataset.WriteIdx(imagesPath, labelsPath, images, labels, Count, Rows, Cols);
        Assert.EndsWith("t10k-images-idx3-ubyte.gz", imagesPath);

        var dataset = FashionMnistDataset.Load(FashionMnistSplit.Test, dir.Path);

        Assert.Equal(Count, dataset.Count);
        Assert.Equal((Rows, Cols), (dataset.Rows, dataset.Cols));
        Assert.Equal(10, dataset.ClassNames.Count);
        Assert.Equal("Ankle boot", dataset.ClassNames[9]);
        for (var i = 0; i < Count; i++)
        {
            var sample = dataset.Get(i);
            Assert.Equal(images.AsSpan(i * Rows * Cols, Rows * Cols).ToArray(), sample.Pixels);
            Assert.Equal((Cols, Rows, 1), (sample.Width, sample.Height, sample.Channels));
            Assert.Equal(labels[i], sample.Label);
            Assert.Equal(labels[i], dataset.LabelOf(i));
        }
        Assert.Equal("fashion-mnist test #2", dataset.Get(2).Source);
    }

    [Fact]
    public void Get_returns_a_copy_that_callers_may_change()
    {
        var (images, labels) = TinyData();
        var dataset = FashionMnistDataset.FromArrays(images, labels, Count, Rows, Cols);
        dataset.Get(1).Pixels[0] = 255;
        Assert.Equal(images[Rows * Cols], dataset.Get(1).Pixels[0]);
    }

    [Fact]
    public void A_missing_file_is_named_with_the_package_that_provides_it()
    {
        using var dir = new TempDirectory();
        var error = Assert.Throws<FileNotFoundException>(() => FashionMnistDataset.Load(FashionMnistSplit.Train, dir.Path));
        Assert.Contains(Paths(dir, FashionMnistSplit.Train).Images, error.Message);
        Assert.Contains("dataset-fashion-mnist", error.Message);
        Assert.Contains("scripts/setup.sh", error.Message);
    }

    [Fact]
    public void A_wrong_magic_number_names_the_file()
    {
        using var dir = new TempDirectory();
        var (images, labels) = TinyData();
        var (imagesPath, labelsPath) = Paths(dir, FashionMnistSplit.Train);
        // Labels where the images should be: a one-dimensional file with magic 0x801.
        FashionMnistDataset.WriteIdx(labelsPath, imagesPath, images, labels, Count, Rows, Cols);

        var error = Assert.Throws<InvalidDataException>(() => FashionMnistDataset.Load(FashionMnistSplit.Train, dir.Path));
        Assert.Contains(imagesPath, error.Message);
        Assert.Contains("0x00000801", error.Message);
    }

    [Fact]
    public void A_cut_off_gzip_file_names_the_file()
    {
        using var dir = new TempDirectory();
        var (images, labels) = TinyData();
        var (imagesPath, labelsPath) = Paths(dir, FashionMnistSplit.Train);
        FashionMnistDataset.WriteIdx(imagesPath, labelsPath, images, labels, Count, Rows, Cols);
        var bytes = File.ReadAllBytes(imagesPath);
        File.WriteAllBytes(imagesPath, bytes[..(bytes.Length / 2)]);

        var error = Assert.Throws<InvalidDataException>(() => FashionMnistDataset.Load(FashionMnistSplit.Train, dir.Path));
        Assert.Contains(imagesPath, error.Message);
    }

    [Fact]
    public void Data_shorter_than_the_header_says_is_reported_as_truncated()
    {
        using var dir = new TempDirectory();
        var (images, labels) = TinyData();
        var (imagesPath, labelsPath) = Paths(dir, FashionMnistSplit.Train);
        FashionMnistDataset.WriteIdx(imagesPath, labelsPath, images, labels, Count, Rows, Cols);
        // A valid gzip stream whose idx header promises five images but holds three.
        WriteGzip(imagesPath, [0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 4, .. images[..(3 * Rows * Cols)]]);

        var error = Assert.Throws<InvalidDataException>(() => FashionMnistDataset.Load(FashionMnistSplit.Train, dir.Path));
        Assert.Contains(imagesPath, error.Message);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void Different_image_and_label_counts_name_both_files()
    {
        using var dir = new TempDirectory();
        var (images, labels) = TinyData();
        var (imagesPath, labelsPath) = Paths(dir, FashionMnistSplit.Train);
        FashionMnistDataset.WriteIdx(imagesPath, labelsPath, images, labels, Count, Rows, Cols);
        FashionMnistDataset.WriteIdx(dir.File("other-images.gz"), labelsPath, images[..(4 * Rows * Cols)], labels[..4], 4, Rows, Cols);

        var error = Assert.Throws<InvalidDataException>(() => FashionMnistDataset.Load(FashionMnistSplit.Train, dir.Path));
        Assert.Contains(imagesPath, error.Message);
        Assert.Contains(labelsPath, error.Message);
    }

    [Theory]
    [InlineData(FashionMnistSplit.Train, 60000)]
    [InlineData(FashionMnistSplit.Test, 10000)]
    public void The_installed_data_set_has_balanced_classes(FashionMnistSplit split, int count)
    {
        var dataset = FashionMnistDataset.Load(split);

        Assert.Equal(count, dataset.Count);
        Assert.Equal(10, dataset.ClassNames.Count);
        Assert.Equal((28, 28), (dataset.Rows, dataset.Cols));
        var perClass = new int[10];
        for (var i = 0; i < dataset.Count; i++)
            perClass[dataset.LabelOf(i)]++;
        Assert.All(perClass, n => Assert.Equal(count / 10, n));
        Assert.Contains(dataset.Get(0).Pixels, p => p > 0);
    }

    private static void WriteGzip(string path, byte[] content)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(content);
    }
}
