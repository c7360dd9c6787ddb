using System.Runtime.InteropServices;
using System.Text;
using EfficientViT.ML.Data;
using Microsoft.ML;
using Microsoft.ML.Data;
using SkiaSharp;

namespace EfficientViT.ML.Tests.Data;

/// <summary>
/// Image folders that lie: links back up the tree, links to folders and files already listed, named pipes under
/// image names, names that are not UTF-8, JPEGs without image data. Each real image is listed once, and what is
/// skipped is named; nothing hangs.
/// </summary>
public class HostileFolderTests
{
    private static readonly TimeSpan NoHang = TimeSpan.FromMinutes(1);

    /// <summary>root/a/{1,2}.png, root/b/{3,4}.png: four real images in two classes.</summary>
    private static string MakeFolder(TempDirectory dir)
    {
        var root = Path.Combine(dir.Path, "images");
        for (var i = 1; i <= 4; i++)
            DataTestImages.WriteSolidPng(Path.Combine(root, i <= 2 ? "a" : "b", $"{i}.png"), 2, 2, (byte)(40 * i), 0, 0);
        return root;
    }

    // On another thread with a time limit: a reader that opens a named pipe blocks for ever.
    private static async Task<(ImageFolderDataset Dataset, List<string> Warnings)> LoadAsync(string root, CorruptImagePolicy policy = CorruptImagePolicy.Fail)
    {
        var warnings = new List<string>();
        var dataset = await Task.Run(() => ImageFolderDataset.Load(root, policy, warnings.Add)).WaitAsync(NoHang);
        return (dataset, warnings);
    }

    private static string[] Listed(ImageFolderDataset dataset) =>
        Enumerable.Range(0, dataset.Count).Select(i => $"{dataset.ClassNames[dataset.LabelOf(i)]}:{Path.GetFileName(dataset.PathOf(i))}").ToArray();

    [Theory]
    [InlineData(CorruptImagePolicy.Fail)]
    [InlineData(CorruptImagePolicy.Skip)]
    public async Task Links_back_up_the_tree_are_not_followed_and_each_loop_is_named(CorruptImagePolicy policy)
    {
        using var dir = new TempDirectory();
        var root = MakeFolder(dir);
        // The issue's loop: a/loop -> .. turned 8 images into 3,608 rows, class b's images labelled a.
        File.CreateSymbolicLink(Path.Combine(root, "a", "loop"), "..");
        Directory.CreateDirectory(Path.Combine(root, "b", "deeper"));
        File.CreateSymbolicLink(Path.Combine(root, "b", "deeper", "up"), "../../..");

        var (dataset, warnings) = await LoadAsync(root, policy);

        Assert.Equal(["a:1.png", "a:2.png", "b:3.png", "b:4.png"], Listed(dataset));
        Assert.Contains($"skipping '{Path.Combine(root, "a", "loop")}': a link back to '{root}' (a loop); links to folders are not followed", warnings);
        Assert.Contains($"skipping '{Path.Combine(root, "b", "deeper", "up")}': a link back to '{dir.Path}' (a loop); links to folders are not followed", warnings);
        Assert.Equal(2, warnings.Count);
    }

    [Fact]
    public async Task A_class_folder_may_be_a_link_but_not_to_another_class_folder_nor_back_to_the_root()
    {
        using var dir = new TempDirectory();
        var root = MakeFolder(dir);
        var elsewhere = Path.Combine(dir.Path, "elsewhere");
        DataTestImages.WriteSolidPng(Path.Combine(elsewhere, "5.png"), 2, 2, 1, 2, 3);
        File.CreateSymbolicLink(Path.Combine(root, "c"), elsewhere);
        File.CreateSymbolicLink(Path.Combine(root, "d"), Path.Combine(root, "a"));
        File.CreateSymbolicLink(Path.Combine(root, "e"), ".");
        // A link to a folder elsewhere, below a class folder: not followed either.
        File.CreateSymbolicLink(Path.Combine(root, "b", "more"), elsewhere);

        var (dataset, warnings) = await LoadAsync(root);

        Assert.Equal(["a", "b", "c"], dataset.ClassNames);
        Assert.Equal(["a:1.png", "a:2.png", "b:3.png", "b:4.png", "c:5.png"], Listed(dataset));
        Assert.Equal(
        [
            $"skipping class folder '{Path.Combine(root, "d")}': a link to '{Path.Combine(root, "a")}', another class folder",
            $"skipping class folder '{Path.Combine(root, "e")}': a link back to '{root}', which holds the image folder (a loop)",
            $"skipping '{Path.Combine(root, "b", "more")}': a link to the folder '{elsewhere}'; links to folders below a class folder are not followed",
        ], warnings);
    }

    [Fact]
    public async Task A_file_reached_through_a_second_link_is_listed_once_at_the_first()
    {
        using var dir = new TempDirectory();
        var root = MakeFolder(dir);
        File.CreateSymbolicLink(Path.Combine(root, "b", "0-same.png"), Path.Combine(root, "a", "1.png"));

        var (dataset, warnings) = await LoadAsync(root);

        Assert.Equal(["a:1.png", "a:2.png", "b:3.png", "b:4.png"], Listed(dataset));
        Assert.Equal([$"skipping '{Path.Combine(root, "b", "0-same.png")}': the same file as '{Path.Combine(root, "a", "1.png")}' (a link), listed once"], warnings);
    }

    [Theory]
    [InlineData(CorruptImagePolicy.Fail)]
    [InlineData(CorruptImagePolicy.Skip)]
    public async Task A_named_pipe_and_a_device_under_image_names_are_skipped_without_being_opened(CorruptImagePolicy policy)
    {
        using var dir = new TempDirectory();
        var root = MakeFolder(dir);
        var pipe = Path.Combine(root, "a", "0-pipe.png");
        Assert.Equal(0, mkfifo(pipe, 0b110_100_100));
        var device = Path.Combine(root, "b", "zero.jpg");
        File.CreateSymbolicLink(device, "/dev/zero");

        var (dataset, warnings) = await LoadAsync(root, policy);

        Assert.Equal(["a:1.png", "a:2.png", "b:3.png", "b:4.png"], Listed(dataset));
        Assert.Equal(
        [
            $"skipping '{pipe}': it is a named pipe (FIFO), not a regular file",
            $"skipping '{device}': it is a character device, not a regular file",
        ], warnings);
    }

    [Fact]
    public async Task A_named_pipe_listed_in_a_manifest_is_refused_by_name_instead_of_blocking_the_reader()
    {
        using var dir = new TempDirectory();
        DataTestImages.WriteSolidPng(dir.File("good.png"), 2, 2, 9, 8, 7);
        var pipe = dir.File("pipe.png");
        Assert.Equal(0, mkfifo(pipe, 0b110_100_100));
        var csv = dir.File("manifest.csv");
        File.WriteAllLines(csv, ["path,label", "good.png,x", "pipe.png,x"]);

        var dataset = CsvManifestDataset.Load(csv);
        var error = await Task.Run(() => Assert.Throws<InvalidDataException>(() => dataset.Get(1))).WaitAsync(NoHang);
        Assert.Equal($"cannot decode image '{pipe}': it is a named pipe (FIFO), not a regular file", error.Message);

        var skipping = await Task.Run(() => CsvManifestDataset.Load(csv, CorruptImagePolicy.Skip)).WaitAsync(NoHang);
        Assert.Equal(1, skipping.Count);
        Assert.Equal([pipe], skipping.SkippedPaths);
    }

    [Theory]
    [InlineData(CorruptImagePolicy.Fail)]
    [InlineData(CorruptImagePolicy.Skip)]
    public async Task A_class_folder_and_a_file_whose_names_are_not_utf8_are_skipped_alone(CorruptImagePolicy policy)
    {
        using var dir = new TempDirectory();
        var root = MakeFolder(dir);
        DataTestImages.WriteSolidPng(Path.Combine(root, "c", "5.png"), 2, 2, 1, 1, 1);
        DataTestImages.WriteSolidPng(Path.Combine(root, "a", "6.png"), 2, 2, 1, 1, 1);
        // "caf\xE9" and "\xFF.png": Latin-1 bytes, invalid as UTF-8.
        byte[] folder = [.. Encoding.UTF8.GetBytes(root + "/caf"), 0xE9], file = [.. Encoding.UTF8.GetBytes(root + "/a/"), 0xFF, .. ".png"u8];
        Rename(Encoding.UTF8.GetBytes(Path.Combine(root, "c")), folder);
        Rename(Encoding.UTF8.GetBytes(Path.Combine(root, "a", "6.png")), file);
        try
        {
            var (dataset, warnings) = await LoadAsync(root, policy);

            Assert.Equal(["a", "b"], dataset.ClassNames);
            Assert.Equal(["a:1.png", "a:2.png", "b:3.png", "b:4.png"], Listed(dataset));
            Assert.Equal(2, warnings.Count);
            Assert.All(warnings, w => Assert.Contains("its name is not valid UTF-8, and cannot be opened from .NET; rename it", w));
            Assert.StartsWith($"skipping class folder '{root}/caf", warnings[0]);
            Assert.StartsWith($"skipping '{root}/a/", warnings[1]);
        }
        finally
        {
            // Back to names .NET can delete.
            Rename(file, Encoding.UTF8.GetBytes(Path.Combine(root, "a", "6.png")));
            Rename(folder, Encoding.UTF8.GetBytes(Path.Combine(root, "c")));
        }
    }

    [Fact]
    public void LoadFromImageFolder_lists_each_real_image_once_and_logs_what_it_skipped()
    {
        using var dir = new TempDirectory();
        var root = MakeFolder(dir);
        File.CreateSymbolicLink(Path.Combine(root, "a", "loop"), "..");
        var mlContext = new MLContext(seed: 0);
        var log = new List<string>();
        mlContext.Log += (_, e) =>
        {
            lock (log)
                log.Add(e.Message);
        };

        var paths = mlContext.Data.LoadFromImageFolder(root).GetColumn<string>("ImagePath").Select(path => Path.GetFileName(path)).ToArray();

        Assert.Equal(["1.png", "2.png", "3.png", "4.png"], paths);
        Assert.Contains(log, m => m.Contains($"LoadFromImageFolder: skipping '{Path.Combine(root, "a", "loop")}': a link back to '{root}' (a loop)"));
    }

    [Fact]
    public async Task A_jpeg_with_headers_and_an_end_marker_but_no_image_data_is_refused_where_images_are_read()
    {
        using var dir = new TempDirectory();
        var root = MakeFolder(dir);
        var jpeg = Jpeg();
        Assert.Null(JpegScans.FindEmptyScan(jpeg));
        var empty = WithoutScanData(jpeg);
        Assert.StartsWith("the JPEG's scan at byte ", JpegScans.FindEmptyScan(empty));
        Assert.Null(JpegScans.FindEmptyScan(Encoding.ASCII.GetBytes("not a JPEG at all")));
        File.WriteAllBytes(Path.Combine(root, "a", "0-grey.jpg"), empty);

        var (failing, _) = await LoadAsync(root);
        var error = Assert.Throws<InvalidDataException>(() => failing.Get(0));
        Assert.Contains("0-grey.jpg': the JPEG's scan at byte ", error.Message);
        Assert.EndsWith("holds no image data: a marker follows its header at once", error.Message);

        var (skipping, _) = await LoadAsync(root, CorruptImagePolicy.Skip);
        Assert.Equal(["a:1.png", "a:2.png", "b:3.png", "b:4.png"], Listed(skipping));
    }

    private static byte[] Jpeg()
    {
        using var surface = SKSurface.Create(new SKImageInfo(32, 24, SKColorType.Rgba8888, SKAlphaType.Opaque));
        surface.Canvas.Clear(new SKColor(200, 100, 50));
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, 90);
        return data.ToArray();
    }

    // The JPEG up to the end of its scan's header, then the end-of-image marker.
    private static byte[] WithoutScanData(byte[] jpeg)
    {
        var position = 2;
        while (jpeg[position + 1] != 0xDA)
            position += 2 + (jpeg[position + 2] << 8 | jpeg[position + 3]);
        return [.. jpeg.AsSpan(0, position + 2 + (jpeg[position + 2] << 8 | jpeg[position + 3])), 0xFF, 0xD9];
    }

    private static void Rename(byte[] from, byte[] to) => Assert.Equal(0, rename([.. from, 0], [.. to, 0]));

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, uint mode);

    [DllImport("libc", SetLastError = true)]
    private static extern int rename(byte[] from, byte[] to);
}
