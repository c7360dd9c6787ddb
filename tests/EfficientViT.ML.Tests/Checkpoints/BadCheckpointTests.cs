using System.IO.Compression;
using System.Text;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Modeling;

namespace EfficientViT.ML.Tests.Checkpoints;

public class BadCheckpointTests
{
    private static readonly string OfficialM0 = TestFiles.OfficialM0("efficientvit_m0.pth");

    [Fact]
    public void Truncated_file_is_reported_with_its_path()
    {
        using var dir = new TempDirectory();
        var path = dir.File("truncated.pth");
        var bytes = File.ReadAllBytes(OfficialM0);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var error = Assert.Throws<CheckpointException>(() => EfficientVitCheckpoint.Load(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Wrong_variant_names_both()
    {
        var error = Assert.Throws<CheckpointException>(() => EfficientVitCheckpoint.Load(OfficialM0,
            new CheckpointLoadOptions { ExpectedVariant = EfficientVitVariant.M4 }));
        Assert.Contains("M0", error.Message);
        Assert.Contains("M4", error.Message);
        Assert.Contains(OfficialM0, error.Message);
    }

    [Fact]
    public void Loading_into_another_variant_lists_the_shape_mismatches()
    {
        using var m1 = EfficientVit.Create(EfficientVitVariant.M1);
        var error = Assert.Throws<CheckpointException>(() => EfficientVitCheckpoint.LoadInto(m1, OfficialM0));
        Assert.Contains("shape mismatches", error.Message);
        Assert.Contains("patch_embed.0.c.weight: model expects (16, 3, 3, 3), file has (8, 3, 3, 3)", error.Message);
    }

    [Fact]
    public void Wrong_number_of_classes_explains_how_to_drop_the_head()
    {
        var error = Assert.Throws<CheckpointException>(() => EfficientVitCheckpoint.Load(OfficialM0, new CheckpointLoadOptions { NumClasses = 10 }));
        Assert.Contains("1000 classes", error.Message);
        Assert.Contains("ExcludeHead", error.Message);

        using var tenClasses = EfficientVit.Create(EfficientVitVariant.M0, numClasses: 10);
        var strict = Assert.Throws<CheckpointException>(() => EfficientVitCheckpoint.LoadInto(tenClasses, OfficialM0));
        Assert.Contains("head.l.weight: model expects (10, 192), file has (1000, 192)", strict.Message);
    }

    [Fact]
    public void Missing_and_unexpected_keys_are_listed()
    {
        using var dir = new TempDirectory();
        var official = TorchCheckpointReader.ReadStateDict(OfficialM0);
        var broken = official.Where(kv => kv.Key != "blocks1.0.dw0.m.c.weight").ToDictionary();
        broken["blocks9.extra"] = official["head.l.bias"];
        var path = dir.File("broken.safetensors");
        SafeTensorsFile.Write(path, broken);

        using var m0 = EfficientVit.Create(EfficientVitVariant.M0);
        var error = Assert.Throws<CheckpointException>(() => EfficientVitCheckpoint.LoadInto(m0, path));
        Assert.Contains("1 missing keys: blocks1.0.dw0.m.c.weight", error.Message);
        Assert.Contains("1 unexpected keys: blocks9.extra", error.Message);
        Assert.Contains(path, error.Message);
        foreach (var tensor in official.Values) tensor.Dispose();
    }

    [Fact]
    public void Weights_that_are_nan_or_infinite_are_refused_naming_each_tensor_and_the_model_is_left_as_it_was()
    {
        using var dir = new TempDirectory();
        var official = TorchCheckpointReader.ReadStateDict(OfficialM0);
        var poisoned = official.ToDictionary();
        poisoned["patch_embed.0.c.weight"] = official["patch_embed.0.c.weight"].clone();
        poisoned["patch_embed.0.c.weight"].view(-1)[5] = float.NaN;
        poisoned["head.l.bias"] = official["head.l.bias"].clone();
        poisoned["head.l.bias"][3] = float.PositiveInfinity;
        poisoned["head.l.bias"][4] = float.NegativeInfinity;
        var path = dir.File("poisoned.safetensors");
        SafeTensorsFile.Write(path, poisoned);

        using var m0 = EfficientVit.Create(EfficientVitVariant.M0);
        var before = m0.state_dict()["patch_embed.0.c.weight"].clone();
        var error = Assert.Throws<CheckpointException>(() => EfficientVitCheckpoint.LoadInto(m0, path));
        Assert.Equal($"{path}: refusing weights that are NaN or infinite, which make every output NaN: 2 tensor(s) holding them: patch_embed.0.c.weight (1 of 216 values), head.l.bias (2 of 1,000 values).",
            error.Message);
        Assert.True(before.eq(m0.state_dict()["patch_embed.0.c.weight"]).all().item<bool>(), "weights were copied before the check");
        Assert.Contains(path, Assert.Throws<CheckpointException>(() => EfficientVitCheckpoint.Load(path)).Message);
        foreach (var tensor in official.Values.Concat(poisoned.Values).Append(before)) tensor.Dispose();
    }

    [Fact]
    public void Files_that_are_not_checkpoints_are_refused()
    {
        using var dir = new TempDirectory();
        var text = dir.File("notes.pth");
        File.WriteAllText(text, "these are not weights");
        Assert.Contains(text, Assert.Throws<CheckpointException>(() => EfficientVitCheckpoint.Load(text)).Message);

        var empty = dir.File("empty.safetensors");
        File.WriteAllBytes(empty, []);
        Assert.Contains(empty, Assert.Throws<CheckpointException>(() => EfficientVitCheckpoint.Load(empty)).Message);

        var missing = dir.File("absent.pth");
        Assert.Contains("not found", Assert.Throws<CheckpointException>(() => EfficientVitCheckpoint.Load(missing)).Message);
    }

    [Fact]
    public void A_pth_holding_pickled_code_is_refused_and_not_run()
    {
        using var dir = new TempDirectory();
        var marker = dir.File("pwned");
        var path = dir.File("evil.pth");
        // protocol 2: GLOBAL 'posix system', then ("touch <marker>",) REDUCE, STOP.
        var pickle = new List<byte> { 0x80, 2 };
        pickle.AddRange(Encoding.ASCII.GetBytes("cposix\nsystem\n"));
        var command = Encoding.ASCII.GetBytes("touch " + marker);
        pickle.Add((byte)'X');
        pickle.AddRange(BitConverter.GetBytes(command.Length));
        pickle.AddRange(command);
        pickle.AddRange([0x85, (byte)'R', (byte)'.']);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using (var entry = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open())
                entry.Write(pickle.ToArray());
            using (var version = zip.CreateEntry("archive/version").Open())
                version.Write("3\n"u8);
        }

        var error = Assert.Throws<CheckpointException>(() => EfficientVitCheckpoint.Load(path));
        Assert.Contains("posix.system", error.Message);
        Assert.Contains(path, error.Message);
        Assert.False(File.Exists(marker));
    }
}
