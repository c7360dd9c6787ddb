using System.Buffers.Binary;
using System.IO.Compression;
using EfficientViT.ML.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Checkpoints;

/// <summary>Reading state dicts from torch.save zip checkpoints: the official fixture and hand-built files.</summary>
public sealed class TorchCheckpointReaderTests
{
    private static void DisposeAll(Dictionary<string, Tensor> tensors)
    {
        foreach (Tensor tensor in tensors.Values)
            tensor.Dispose();
    }

    [Fact]
    public void OfficialFixture_HasExactlyTheListedKeysShapesAndDtypes()
    {
        List<(string Key, long[] Shape)> expected = TestFiles.ReadKeyList(TestFiles.OfficialM0("keys_m0.txt"));
        Assert.Equal(699, expected.Count);

        Dictionary<string, Tensor> stateDict = TorchCheckpointReader.ReadStateDict(TestFiles.OfficialM0("efficientvit_m0.pth"));
        try
        {
            // Same keys in the same (saved) order.
            Assert.Equal(expected.Select(e => e.Key), stateDict.Keys);
            foreach ((string name, long[] shape) in expected)
            {
                Tensor tensor = stateDict[name];
                Assert.True(shape.SequenceEqual(tensor.shape), $"{name}: expected ({string.Join(", ", shape)}), found ({string.Join(", ", tensor.shape)})");
                ScalarType expectedType = name.EndsWith("attention_bias_idxs", StringComparison.Ordinal) || name.EndsWith("num_batches_tracked", StringComparison.Ordinal)
                    ? ScalarType.Int64
                    : ScalarType.Float32;
                Assert.True(expectedType == tensor.dtype, $"{name}: expected {expectedType}, found {tensor.dtype}");
                Assert.Equal(DeviceType.CPU, tensor.device_type);
                Assert.True(tensor.is_contiguous(), $"{name} is not contiguous");
                Assert.False(tensor.requires_grad, $"{name} requires grad");
            }
        }
        finally
        {
            DisposeAll(stateDict);
        }
    }

    [Fact]
    public void OfficialFixture_ValuesAreConsistent()
    {
        Dictionary<string, Tensor> stateDict = TorchCheckpointReader.ReadStateDict(TestFiles.OfficialM0("efficientvit_m0.pth"));
        try
        {
            int tables = 0;
            foreach ((string name, Tensor idxs) in stateDict.Where(p => p.Key.EndsWith(".attention_bias_idxs", StringComparison.Ordinal)))
            {
                Tensor biases = stateDict[name[..^"_idxs".Length] + "es"];
                long rowLength = biases.shape[1];
                Assert.True(idxs.min().item<long>() >= 0, $"{name} has a negative index");
                Assert.True(idxs.max().item<long>() < rowLength, $"{name} indexes past the {rowLength} entries of an attention_biases row");
                tables++;
            }
            Assert.True(tables > 0);

            // README facts: BN weights ~ U(0.5, 1.5), biases ~ U(-0.1, 0.1), attention_biases ~ U(-1, 1), running_var > 0.
            foreach ((string name, Tensor tensor) in stateDict)
            {
                if (name.EndsWith(".bn.weight", StringComparison.Ordinal))
                    AssertRange(name, tensor, 0.5, 1.5);
                else if (name.EndsWith(".bn.bias", StringComparison.Ordinal))
                    AssertRange(name, tensor, -0.1, 0.1);
                else if (name.EndsWith(".attention_biases", StringComparison.Ordinal))
                    AssertRange(name, tensor, -1, 1);
                else if (name.EndsWith(".running_var", StringComparison.Ordinal))
                    AssertRange(name, tensor, 1e-4, 100);
            }
        }
        finally
        {
            DisposeAll(stateDict);
        }

        static void AssertRange(string name, Tensor tensor, double low, double high)
        {
            double min = tensor.min().item<float>(), max = tensor.max().item<float>();
            Assert.True(min >= low && max <= high, $"{name}: values in [{min}, {max}], expected within [{low}, {high}]");
        }
    }

    [Fact]
    public void OfficialFixture_FirstTensorEqualsItsRawStorageBytes()
    {
        // patch_embed.0.c.weight is the contiguous storage "0" (216 float32): compare with the zip entry itself.
        byte[] raw;
        using (ZipArchive zip = ZipFile.OpenRead(TestFiles.OfficialM0("efficientvit_m0.pth")))
        using (var buffer = new MemoryStream())
        {
            using (Stream entry = zip.GetEntry("efficientvit_m0/data/0")!.Open())
                entry.CopyTo(buffer);
            raw = buffer.ToArray();
        }
        float[] expected = Enumerable.Range(0, raw.Length / 4).Select(i => BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(i * 4))).ToArray();

        Dictionary<string, Tensor> stateDict = TorchCheckpointReader.ReadStateDict(TestFiles.OfficialM0("efficientvit_m0.pth"));
        try
        {
            Assert.Equal(216, expected.Length);
            Assert.Equal(expected, stateDict["patch_embed.0.c.weight"].data<float>().ToArray());
        }
        finally
        {
            DisposeAll(stateDict);
        }
    }

    [Fact]
    public void Tensors_OutliveACallerDisposeScope()
    {
        Dictionary<string, Tensor> stateDict;
        using (torch.NewDisposeScope())
        {
            stateDict = TorchCheckpointReader.ReadStateDict(TestFiles.OfficialM0("efficientvit_m0.pth"));
        }
        try
        {
            Assert.All(stateDict.Values, t => Assert.False(t.IsInvalid));
            Assert.Equal(8, stateDict["patch_embed.0.c.weight"].shape[0]);
        }
        finally
        {
            DisposeAll(stateDict);
        }
    }

    [Fact]
    public void HandBuilt_StridesOffsetsSharedStoragesScalarsAndParameters()
    {
        using var dir = new TempDirectory();
        string path = dir.File("views.pth");
        byte[] pickle = new PickleBuilder()
            .Proto()
            .Global("collections", "OrderedDict").EmptyTuple().Reduce()
            .Mark()
            .Unicode("plain").Tensor("FloatStorage", "0", 6, 0, [2, 3], [3, 1])
            .Unicode("transposed").Tensor("FloatStorage", "0", 6, 0, [3, 2], [1, 3])
            .Unicode("offset").Tensor("FloatStorage", "0", 6, 4, [2], [1])
            .Unicode("scalar").Tensor("LongStorage", "1", 1, 0, [], [])
            .Unicode("empty").Tensor("FloatStorage", "2", 0, 0, [0, 4], [4, 1])
            .Unicode("param")
                .Global("torch._utils", "_rebuild_parameter")
                .Mark().Tensor("FloatStorage", "3", 2, 0, [2], [1]).Bool(true)
                .Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce()
            .SetItems()
            .Stop()
            .ToArray();
        TorchZip.Write(path, pickle, new Dictionary<string, byte[]>
        {
            ["0"] = TorchZip.Floats(0, 1, 2, 3, 4, 5),
            ["1"] = TorchZip.Longs(-7),
            ["2"] = [],
            ["3"] = TorchZip.Floats(0.5f, -0.25f),
        });

        Dictionary<string, Tensor> stateDict = TorchCheckpointReader.ReadStateDict(path);
        try
        {
            Assert.Equal(["plain", "transposed", "offset", "scalar", "empty", "param"], stateDict.Keys);
            Assert.Equal([0f, 1, 2, 3, 4, 5], stateDict["plain"].data<float>().ToArray());
            Assert.Equal([3L, 2], stateDict["transposed"].shape);
            Assert.Equal([0f, 3, 1, 4, 2, 5], stateDict["transposed"].data<float>().ToArray());
            Assert.Equal([4f, 5], stateDict["offset"].data<float>().ToArray());
            Assert.Empty(stateDict["scalar"].shape);
            Assert.Equal(-7L, stateDict["scalar"].item<long>());
            Assert.Equal([0L, 4], stateDict["empty"].shape);
            Assert.Equal([0.5f, -0.25f], stateDict["param"].data<float>().ToArray());
            Assert.True(stateDict["param"].requires_grad);

            // Each tensor owns its memory: writing one must not change another made from the same storage.
            stateDict["plain"].zero_();
            Assert.Equal([0f, 3, 1, 4, 2, 5], stateDict["transposed"].data<float>().ToArray());
        }
        finally
        {
            DisposeAll(stateDict);
        }
    }

    [Theory]
    [InlineData("model")]
    [InlineData("state_dict")]
    [InlineData("model_ema")]
    public void NestedStateDict_IsFoundUnderItsKey(string nestedKey)
    {
        using var dir = new TempDirectory();
        string path = dir.File("nested.pth");
        byte[] pickle = new PickleBuilder()
            .Proto()
            .EmptyDict()
            .Mark()
            .Unicode("epoch").Int(12)
            .Unicode("optimizer").EmptyDict().Unicode("lr").Int(1).SetItem()
            .Unicode(nestedKey).EmptyDict().Unicode("w").Tensor("FloatStorage", "0", 1, 0, [1], [1]).SetItem()
            .SetItems()
            .Stop()
            .ToArray();
        TorchZip.Write(path, pickle, new Dictionary<string, byte[]> { ["0"] = TorchZip.Floats(3.5f) });

        Dictionary<string, Tensor> stateDict = TorchCheckpointReader.ReadStateDict(path);
        try
        {
            Assert.Equal(["w"], stateDict.Keys);
            Assert.Equal(3.5f, stateDict["w"].item<float>());
        }
        finally
        {
            DisposeAll(stateDict);
        }
    }

    [Fact]
    public void NoStateDict_ErrorListsTopLevelKeys()
    {
        using var dir = new TempDirectory();
        string path = dir.File("no-weights.pth");
        byte[] pickle = new PickleBuilder()
            .Proto()
            .EmptyDict()
            .Mark().Unicode("epoch").Int(3).Unicode("best_acc").Int(70).Unicode("note").None().SetItems()
            .Stop()
            .ToArray();
        TorchZip.Write(path, pickle);

        var error = Assert.Throws<CheckpointException>(() => TorchCheckpointReader.ReadStateDict(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("'epoch'", error.Message);
        Assert.Contains("'best_acc'", error.Message);
        Assert.Contains("'note'", error.Message);
    }
}
