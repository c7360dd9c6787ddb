using EfficientViT.ML.Checkpoints;

namespace EfficientViT.ML.Tests.Checkpoints;

/// <summary>The restricted unpickler refuses every global and opcode outside the allow-list, and runs nothing.</summary>
public sealed class PickleSafetyTests
{
    // What `pickle.loads` would turn into os.system("touch <marker>"): GLOBAL, an argument tuple, REDUCE.
    private static byte[] SystemCallPickle(string marker, bool stackGlobal, string module = "os", string name = "system")
    {
        var builder = new PickleBuilder().Proto();
        builder = stackGlobal ? builder.StackGlobal(module, name) : builder.Global(module, name);
        return builder.Mark().Unicode($"touch '{marker}'").Tuple().Reduce().Stop().ToArray();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OsSystem_IsRefusedAndNothingRuns(bool stackGlobal)
    {
        using var dir = new TempDirectory();
        string marker = dir.File("pwned");
        string path = dir.File("evil.pth");
        TorchZip.Write(path, SystemCallPickle(marker, stackGlobal));

        var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("'os.system'", error.Message);
        Assert.Contains("refusing to load", error.Message);
        Assert.Contains("never executed", error.Message);
        Assert.False(File.Exists(marker), "the pickle's command ran");
    }

    [Theory]
    [InlineData("builtins", "eval")]
    [InlineData("posix", "system")]
    [InlineData("subprocess", "Popen")]
    [InlineData("__builtin__", "exec")]
    [InlineData("torch", "load")]
    [InlineData("torch._utils", "_rebuild_tensor")]
    [InlineData("collections", "defaultdict")]
    [InlineData("numpy.core.multiarray", "_reconstruct")]
    public void OtherGlobals_AreRefused(string module, string name)
    {
        using var dir = new TempDirectory();
        string marker = dir.File("pwned");
        string path = dir.File("evil.pth");

        foreach (bool stackGlobal in new[] { false, true })
        {
            TorchZip.Write(path, SystemCallPickle(marker, stackGlobal, module, name));
            var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));
            Assert.Contains(path, error.Message);
            Assert.Contains($"'{module}.{name}'", error.Message);
            File.Delete(path);
        }
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void GlobalInsideAStateDictValue_IsRefused()
    {
        // A malicious value hidden among real weights is refused as well, not skipped.
        using var dir = new TempDirectory();
        string marker = dir.File("pwned");
        string path = dir.File("evil.pth");
        byte[] pickle = new PickleBuilder()
            .Proto()
            .EmptyDict()
            .Mark()
            .Unicode("w").Tensor("FloatStorage", "0", 1, 0, [1], [1])
            .Unicode("x").Global("os", "system").Mark().Unicode($"touch '{marker}'").Tuple().Reduce()
            .SetItems()
            .Stop()
            .ToArray();
        TorchZip.Write(path, pickle, new Dictionary<string, byte[]> { ["0"] = TorchZip.Floats(1) });

        var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains("'os.system'", error.Message);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void A_training_checkpoint_with_its_argparse_namespace_loads_the_model()
    {
        // The official training script saves {'model', 'optimizer', ..., 'epoch', 'args': argparse.Namespace}.
        using var dir = new TempDirectory();
        string path = dir.File("checkpoint.pth");
        byte[] pickle = new PickleBuilder()
            .Proto()
            .EmptyDict()
            .Mark()
            .Unicode("model").EmptyDict().Mark().Unicode("w").Tensor("FloatStorage", "0", 2, 0, [2], [1]).SetItems()
            .Unicode("args").Global("argparse", "Namespace").EmptyTuple().Op(0x81)
                .EmptyDict().Mark().Unicode("epochs").Int(300).Unicode("model").Unicode("EfficientViT_M0").SetItems().Op((byte)'b')
            .Unicode("epoch").Int(299)
            .SetItems()
            .Stop()
            .ToArray();
        TorchZip.Write(path, pickle, new Dictionary<string, byte[]> { ["0"] = TorchZip.Floats(1.5f, -2f) });

        var state = TorchCheckpointReader.ReadStateDict(path);

        Assert.Equal(["w"], state.Keys);
        Assert.Equal([1.5f, -2f], state["w"].data<float>().ToArray());
        foreach (var tensor in state.Values) tensor.Dispose();
    }

    [Fact]
    public void A_namespace_is_never_called()
    {
        byte[] pickle = new PickleBuilder().Proto().Global("argparse", "Namespace").EmptyTuple().Reduce().Stop().ToArray();

        var error = Assert.Throws<CheckpointException>(() => PickleReader.Load(pickle, "args.pth"));

        Assert.Contains("cannot be called", error.Message);
    }

    [Theory]
    [InlineData((byte)'i')] // INST: imports and calls a class
    [InlineData((byte)'o')] // OBJ
    [InlineData((byte)'P')] // PERSID (text form)
    [InlineData((byte)'I')] // INT (text form)
    [InlineData((byte)0x82)] // EXT1: extension registry lookup
    [InlineData((byte)0x92)] // NEWOBJ_EX
    [InlineData((byte)0x96)] // BYTEARRAY8
    public void UnknownOpcodes_AreRefused(byte opcode)
    {
        byte[] pickle = new PickleBuilder().Proto().Op(opcode).Stop().ToArray();

        var error = Assert.Throws<CheckpointException>(() => PickleReader.Load(pickle, "some/file.pth"));

        Assert.Contains("some/file.pth", error.Message);
        Assert.Contains($"0x{opcode:x2}", error.Message);
    }

    [Fact]
    public void ReduceOnAStorageClass_IsRefused()
    {
        // Allow-listed names are data markers only; calling one is not allowed.
        byte[] pickle = new PickleBuilder().Proto().Global("torch", "FloatStorage").EmptyTuple().Reduce().Stop().ToArray();

        var error = Assert.Throws<CheckpointException>(() => PickleReader.Load(pickle, "f.pth"));
        Assert.Contains("torch.FloatStorage", error.Message);
    }

    [Fact]
    public void TruncatedPickle_IsReported()
    {
        byte[] full = new PickleBuilder().Proto().EmptyDict().Unicode("a long enough key").Int(1).SetItem().Stop().ToArray();

        var error = Assert.Throws<CheckpointException>(() => PickleReader.Load(full[..10], "f.pth"));
        Assert.Contains("f.pth", error.Message);
        Assert.Contains("ends unexpectedly", error.Message);
    }

    [Fact]
    public void PlainValues_AreDecoded()
    {
        byte[] pickle = new PickleBuilder()
            .Proto(4)
            .EmptyDict()
            .Mark()
            .Unicode("int").Int(-5)
            .Unicode("big").Int(1L << 40)
            .Unicode("flag").Bool(true)
            .Unicode("none").None()
            .Unicode("short").ShortUnicode("é")
            .SetItems()
            .Stop()
            .ToArray();

        var dict = Assert.IsType<PickleDict>(PickleReader.Load(pickle, "f.pth"));

        Assert.Equal(-5L, dict.Entries["int"]);
        Assert.Equal(1L << 40, dict.Entries["big"]);
        Assert.Equal(true, dict.Entries["flag"]);
        Assert.Null(dict.Entries["none"]);
        Assert.Equal("é", dict.Entries["short"]);
    }
}
