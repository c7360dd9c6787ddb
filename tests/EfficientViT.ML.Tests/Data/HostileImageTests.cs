using EfficientViT.ML.Data;

namespace EfficientViT.ML.Tests.Data;

/// <summary>
/// Image files that decode to something other than what they hold unless the decoder takes care: alpha,
/// truncated and corrupt files (made by Fixtures/hostile-images/make_hostile_images.py).
/// </summary>
public class HostileImageTests
{
    private static string Hostile(string name) => TestFiles.Fixture("hostile-images", name);

    [Theory]
    [InlineData("rgba_alpha0.png")]
    [InlineData("rgba_alpha128.png")]
    public void Alpha_is_dropped_and_the_stored_colour_kept(string file)
    {
        var expected = ImageFiles.Decode(Hostile("rgb.png"), label: 0);
        var actual = ImageFiles.Decode(Hostile(file), label: 0);

        Assert.Equal((32, 32, 3), (actual.Width, actual.Height, actual.Channels));
        // Pixel (31, 31) of the gradient is (248, 248, 208): blending over black would darken or zero it.
        Assert.Equal([248, 248, 208], actual.Pixels.AsSpan((31 * 32 + 31) * 3, 3).ToArray());
        Assert.Equal(expected.Pixels, actual.Pixels);
    }

    [Theory]
    [InlineData("truncated.png", "ends early")]
    [InlineData("garbage.png", "")]
    public void Truncated_and_corrupt_files_are_refused_naming_the_file(string file, string reason)
    {
        var path = Hostile(file);

        var error = Assert.Throws<InvalidDataException>(() => ImageFiles.Decode(path, label: 0));

        Assert.StartsWith($"cannot decode image '{path}': ", error.Message);
        Assert.Contains(reason, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Skipping_corrupt_images_drops_truncated_and_corrupt_files()
    {
        using var dir = new TempDirectory();
        foreach (var (name, folder) in new[] { ("rgb.png", "a"), ("rgba_alpha0.png", "a"), ("truncated.png", "b"), ("garbage.png", "b"), ("rgb.png", "b") })
        {
            Directory.CreateDirectory(dir.File(folder));
            File.Copy(Hostile(name), dir.File(Path.Combine(folder, name)));
        }
        var warnings = new List<string>();

        var dataset = ImageFolderDataset.Load(dir.Path, CorruptImagePolicy.Skip, warnings.Add);

        string[] bad = [dir.File(Path.Combine("b", "garbage.png")), dir.File(Path.Combine("b", "truncated.png"))];
        Assert.Equal(3, dataset.Count);
        Assert.Equal(bad, dataset.SkippedPaths.Order());
        Assert.Equal(2, warnings.Count);
        Assert.All(bad, b => Assert.Contains(warnings, w => w.StartsWith($"skipping unreadable image '{b}': ", StringComparison.Ordinal)));
    }
}
