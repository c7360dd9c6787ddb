using System.IO.Compression;
using EfficientViT.ML.Checkpoints;

namespace EfficientViT.ML.Tests.Checkpoints;

/// <summary>
/// The files of Fixtures/hostile (written by make_hostile.py there) are tiny but, read naively, overflow the stack,
/// allocate gigabytes or are misreported. Each must be refused with one line naming the file and the problem.
/// </summary>
public sealed class HostileCheckpointTests
{
    [Theory]
    [InlineData("nested-tuple-key.pth", "is nested 101 levels deep (at most 100")]
    [InlineData("shared-tuple-keys.pth", "has a tuple key of")]
    [InlineData("stride-zero-view.pth", "tensor 'w' (float32, size (32768, 32768), stride (0, 0)")]
    [InlineData("shared-storage-views.pth", "views may repeat stored data at most 2-fold")]
    [InlineData("overflowing-size.pth", "needs 9223372036854775807 elements")]
    [InlineData("huge-storage-numel.pth", "has 4 bytes, but 1099511627776 float32 elements")]
    [InlineData("view-past-storage.pth", "holds only 1")]
    [InlineData("many-dimensions.pth", "100 dimensions (at most 64")]
    [InlineData("empty-dicts-bomb.pth", "would expand from")]
    [InlineData("nones-bomb.pth", "more than 16-fold")]
    [InlineData("empty-dicts-list.pth", "MiB of objects")]
    [InlineData("marks.pth", "finds no value on the pickle stack")]
    [InlineData("memo-flood.pth", "no state dict found")]
    [InlineData("declared-huge-pickle.pth", "zip entry 'archive/data.pkl' would expand from")]
    [InlineData("declared-huge-storage.pth", "claims 2147418112 stored bytes, but the file has only")]
    [InlineData("huge-string.pth", "a string of 1152921504606846976 bytes")]
    [InlineData("newline-key.pth", "keys 'net\\x0aerror: forged'")]
    [InlineData("invalid-utf8.safetensors", "the header is not valid UTF-8")]
    [InlineData("empty-tensor.safetensors", "tensor 'patch_embed.0.c.weight' is empty (shape (1000000000, 0, 3, 3))")]
    [InlineData("empty.pth", "not a checkpoint (empty file)")]
    [InlineData("random.pth", "unrecognised format")]
    [InlineData("text.pth", "unrecognised format")]
    [InlineData("legacy.pth", "it looks like a legacy pre-1.6 torch.save file (a bare pickle)). Only the zip format")]
    [InlineData("huge-header-length.safetensors", "header length 4611686018427387904 exceeds")]
    [InlineData("deep-json.safetensors", "the header is not valid JSON")]
    [InlineData("bad-metadata-std.safetensors", "the 'efficientvit' metadata is invalid: Std must be positive and finite; found [0.2, 0, 0.2]")]
    [InlineData("bad-metadata-mean.safetensors", "the 'efficientvit' metadata is invalid: Mean and Std need three entries (R, G, B); found 0 and 3")]
    public void Hostile_file_is_refused_in_one_line_naming_the_file(string file, string problem)
    {
        string path = TestFiles.Fixture("hostile", file);
        Assert.True(File.Exists(path), $"missing fixture {path}; run make_hostile.py");

        var error = Assert.Throws<CheckpointException>(() => EfficientVitCheckpoint.Load(path));

        Assert.StartsWith(path + ": ", error.Message);
        Assert.Contains(problem, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Every_hostile_fixture_is_tried()
    {
        // A file added to make_hostile.py without a case above would go untested.
        var tried = typeof(HostileCheckpointTests).GetMethod(nameof(Hostile_file_is_refused_in_one_line_naming_the_file))!
            .GetCustomAttributes(typeof(InlineDataAttribute), false).Cast<InlineDataAttribute>()
            .Select(a => (string)a.GetData(null!).First()[0]).ToHashSet();
        var present = Directory.GetFiles(TestFiles.Fixture("hostile")).Select(Path.GetFileName).Where(f => f != "make_hostile.py");
        Assert.Equal(present.Order(), tried.Order());
    }

    [Fact]
    public void A_real_state_dict_pickle_needs_less_than_its_per_byte_allowance()
    {
        // The budget is 64 MiB plus 16 bytes per pickle byte; the official pickle fits in the per-byte part alone,
        // so no real checkpoint, however many tensors it has, comes near the limit.
        using ZipArchive zip = ZipFile.OpenRead(TestFiles.OfficialM0("efficientvit_m0.pth"));
        ZipArchiveEntry entry = zip.Entries.Single(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal));
        var pickle = new byte[entry.Length];
        using (Stream stream = entry.Open())
            stream.ReadExactly(pickle);

        object? root = PickleReader.Load(pickle, "official", budgetBytes: PickleReader.BudgetBytesPerPickleByte * pickle.LongLength);

        Assert.IsType<PickleDict>(root);
        Assert.Throws<CheckpointException>(() => PickleReader.Load(pickle, "official", budgetBytes: pickle.LongLength));
    }

    [Fact]
    public void Equal_tuple_keys_built_apart_are_one_key()
    {
        // Hashes are stored, not recomputed, but equal tuples must still be equal keys, as in Python.
        var a = new PickleTuple([1L, new PickleTuple(["x", 2L])]);
        var b = new PickleTuple([1L, new PickleTuple(["x", 2L])]);
        var c = new PickleTuple([1L, new PickleTuple(["x", 3L])]);

        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, c);
        Assert.Equal(2, a.Depth);
        Assert.Equal(4, a.Elements);
    }

    [Theory]
    [InlineData(new byte[0], "Empty")]
    [InlineData(new byte[] { 0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0, 0 }, "TorchZip")]
    [InlineData(new byte[] { 0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9 }, "LegacyTorchPickle")]
    [InlineData(new byte[] { 0x10, 0, 0, 0, 0, 0, 0, 0, (byte)'{' }, "SafeTensors")]
    [InlineData(new byte[] { 0x10, 0, 0, 0, 0, 0, 0, 0, (byte)'[' }, "Unknown")]
    [InlineData(new byte[] { 0x80, 0x09 }, "Unknown")]
    public void Files_are_recognised_by_content(byte[] head, string kind) =>
        Assert.Equal(kind, CheckpointFileSignature.Detect(head).ToString());
}
