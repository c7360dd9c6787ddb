using EfficientViT.ML.Checkpoints;

namespace EfficientViT.ML.Tests.Checkpoints;

/// <summary>Broken or foreign files give a <see cref="CheckpointException"/> that names the file and the problem.</summary>
public sealed class TorchCheckpointErrorTests
{
    [Fact]
    public void MissingFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("nope.pth");

        var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("not found", error.Message);
    }

    [Fact]
    public void EmptyFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("empty.pth");
        File.WriteAllBytes(path, []);

        var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("empty", error.Message);
    }

    [Fact]
    public void TextFile_IsNotAZipCheckpoint_AndTheLegacyFormatIsExplained()
    {
        using var dir = new TempDirectory();
        string path = dir.File("notes.pth");
        File.WriteAllText(path, "these are not the weights you are looking for\n");

        var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("not a PyTorch zip checkpoint", error.Message);
        Assert.Contains("legacy pre-1.6", error.Message);
        Assert.Contains("torch.save(torch.load(", error.Message);
    }

    [Fact]
    public void LegacyBarePickle_IsRecognized()
    {
        using var dir = new TempDirectory();
        string path = dir.File("legacy.pth");
        File.WriteAllBytes(path, new PickleBuilder().Proto().EmptyDict().Stop().ToArray());

        var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("looks like a legacy pre-1.6 torch.save file", error.Message);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.999)]
    [InlineData(0.0001)]
    public void TruncatedFixture(double fraction)
    {
        using var dir = new TempDirectory();
        string path = dir.File("truncated.pth");
        byte[] full = File.ReadAllBytes(TestFiles.OfficialM0("efficientvit_m0.pth"));
        File.WriteAllBytes(path, full[..(int)(full.Length * fraction)]);

        var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("truncated or corrupt", error.Message);
    }

    [Fact]
    public void ZipWithoutDataPkl()
    {
        using var dir = new TempDirectory();
        string path = dir.File("other.zip");
        using (var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Create))
            zip.CreateEntry("readme.txt");

        var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("data.pkl", error.Message);
    }

    [Fact]
    public void MissingStorageEntry()
    {
        using var dir = new TempDirectory();
        string path = dir.File("missing-storage.pth");
        byte[] pickle = new PickleBuilder()
            .Proto().EmptyDict().Unicode("head.weight").Tensor("FloatStorage", "7", 4, 0, [2, 2], [2, 1]).SetItem().Stop().ToArray();
        TorchZip.Write(path, pickle);

        var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("'head.weight'", error.Message);
        Assert.Contains("'archive/data/7'", error.Message);
        Assert.Contains("missing", error.Message);
    }

    [Fact]
    public void StorageEntryShorterThanItsNumel()
    {
        using var dir = new TempDirectory();
        string path = dir.File("short-storage.pth");
        byte[] pickle = new PickleBuilder()
            .Proto().EmptyDict().Unicode("w").Tensor("FloatStorage", "0", 4, 0, [4], [1]).SetItem().Stop().ToArray();
        TorchZip.Write(path, pickle, new Dictionary<string, byte[]> { ["0"] = TorchZip.Floats(1, 2, 3) });

        var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("'w'", error.Message);
        Assert.Contains("12 bytes", error.Message);
        Assert.Contains("need 16", error.Message);
    }

    [Fact]
    public void StorageTooSmallForSizeAndStride()
    {
        using var dir = new TempDirectory();
        string path = dir.File("small-storage.pth");
        // size (2, 3) with stride (3, 1) from offset 1 needs 7 elements; the storage has 6.
        byte[] pickle = new PickleBuilder()
            .Proto().EmptyDict().Unicode("blocks.0.w").Tensor("FloatStorage", "0", 6, 1, [2, 3], [3, 1]).SetItem().Stop().ToArray();
        TorchZip.Write(path, pickle, new Dictionary<string, byte[]> { ["0"] = TorchZip.Floats(1, 2, 3, 4, 5, 6) });

        var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("'blocks.0.w'", error.Message);
        Assert.Contains("size (2, 3)", error.Message);
        Assert.Contains("stride (3, 1)", error.Message);
        Assert.Contains("needs 7 elements", error.Message);
        Assert.Contains("holds only 6", error.Message);
    }

    [Fact]
    public void HugeStorageElementCount_DoesNotOverflow()
    {
        using var dir = new TempDirectory();
        string path = dir.File("huge-numel.pth");
        byte[] pickle = new PickleBuilder()
            .Proto().EmptyDict().Unicode("w").Tensor("DoubleStorage", "0", long.MaxValue / 2, 0, [1], [1]).SetItem().Stop().ToArray();
        TorchZip.Write(path, pickle, new Dictionary<string, byte[]> { ["0"] = TorchZip.Longs(1) });

        var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("'w'", error.Message);
        Assert.Contains("8 bytes", error.Message);
    }

    [Fact]
    public void TorchScriptArchive_IsNamedAsSuch()
    {
        using var dir = new TempDirectory();
        string path = dir.File("scripted.pt");
        using (var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Create))
        {
            zip.CreateEntry("scripted/data.pkl");
            zip.CreateEntry("scripted/constants.pkl");
            zip.CreateEntry("scripted/code/__torch__.py");
        }

        var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("TorchScript", error.Message);
    }
}
