using System.Buffers.Binary;
using System.Text;
using EfficientViT.ML.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Checkpoints;

/// <summary>Reading and writing safetensors files: exact round trips, the on-disk layout, and malformed files.</summary>
public sealed class SafeTensorsFileTests
{
    private static void DisposeAll(IEnumerable<Tensor> tensors)
    {
        foreach (Tensor tensor in tensors)
            tensor.Dispose();
    }

    private static byte[] Bytes(Tensor tensor)
    {
        using Tensor contiguous = tensor.contiguous();
        return contiguous.numel() == 0 ? [] : contiguous.bytes.ToArray();
    }

    /// <summary>An 8-byte length, the header text, then the data bytes: a file built by hand from the spec.</summary>
    private static byte[] HandBuilt(string header, byte[] data)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        data.CopyTo(file, 8 + json.Length);
        return file;
    }

    [Fact]
    public void RoundTrip_KeepsOrderDtypesShapesExactValuesAndMetadata()
    {
        using var dir = new TempDirectory();
        string path = dir.File("weights.safetensors");
        using Tensor source = torch.tensor(new float[] { 0f, -1.5f, 3.25e-8f, float.MaxValue, float.NaN, float.NegativeInfinity }).reshape(2, 3);
        var tensors = new List<KeyValuePair<string, Tensor>>
        {
            new("f32", source),
            new("f32_transposed", source.t()), // non-contiguous input: written in logical order
            new("f64", torch.tensor(new double[] { Math.PI, -1e300, double.Epsilon })),
            new("f16", source.to(ScalarType.Float16)),
            new("bf16", source.to(ScalarType.BFloat16)),
            new("i64", torch.tensor(new long[] { long.MinValue, -1, long.MaxValue }).reshape(3, 1)),
            new("i32", torch.tensor(new int[] { int.MinValue, 0, int.MaxValue })),
            new("i16", torch.tensor(new short[] { short.MinValue, 7, short.MaxValue })),
            new("i8", torch.tensor(new sbyte[] { sbyte.MinValue, -1, sbyte.MaxValue })),
            new("u8", torch.tensor(new byte[] { 0, 128, 255 })),
            new("bool", torch.tensor(new bool[] { true, false, true, true })),
            new("scalar", torch.tensor(42L)),
            new("empty", torch.zeros(0, 5)),
            new("blocks.0.mixer.m.attn.attention_biases", torch.arange(12, dtype: ScalarType.Float32).reshape(2, 2, 3)),
        };
        var metadata = new Dictionary<string, string> { ["variant"] = "m0", ["note"] = "ünïcödé \"quoted\"", ["empty"] = "" };

        try
        {
            SafeTensorsFile.Write(path, tensors, metadata);
            (Dictionary<string, Tensor> read, Dictionary<string, string> readMetadata) = SafeTensorsFile.Read(path);
            try
            {
                Assert.Equal(tensors.Select(t => t.Key), read.Keys);
                foreach ((string name, Tensor expected) in tensors)
                {
                    Tensor actual = read[name];
                    Assert.Equal(expected.dtype, actual.dtype);
                    Assert.Equal(expected.shape, actual.shape);
                    Assert.True(Bytes(expected).SequenceEqual(Bytes(actual)), $"{name}: bytes differ");
                }
                Assert.Equal(metadata, readMetadata);
            }
            finally
            {
                DisposeAll(read.Values);
            }
        }
        finally
        {
            DisposeAll(tensors.Where(t => t.Key != "f32").Select(t => t.Value));
        }
    }

    [Fact]
    public void Write_FollowsTheLayoutOfTheSpec()
    {
        using var dir = new TempDirectory();
        string path = dir.File("layout.safetensors");
        using Tensor a = torch.tensor(new float[] { 1, 2, 3 });
        using Tensor b = torch.tensor(new short[] { -1 });

        SafeTensorsFile.Write(path, [new("a", a), new("b", b)]);

        byte[] file = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.Equal(0, (8 + headerLength) % 8); // data starts 8-byte aligned
        string header = Encoding.UTF8.GetString(file, 8, (int)headerLength);
        Assert.StartsWith("{", header);
        Assert.Equal("}", header.TrimEnd(' ')[^1..]); // padded with spaces only
        Assert.Contains("\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}", header);
        Assert.Contains("\"b\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[12,14]}", header);
        Assert.DoesNotContain("__metadata__", header);
        Assert.Equal(8 + headerLength + 14, file.Length);
        Assert.Equal(2f, BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan((int)(8 + headerLength + 4))));
    }

    [Fact]
    public void Read_AHandBuiltFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("hand.safetensors");
        byte[] data = [.. TorchZip.Floats(1.5f, -2f), .. TorchZip.Longs(9)];
        File.WriteAllBytes(path, HandBuilt(
            "{\"__metadata__\":{\"format\":\"pt\"},\"x\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}," +
            "\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]}}   ",
            data));

        (Dictionary<string, Tensor> tensors, Dictionary<string, string> metadata) = SafeTensorsFile.Read(path);
        try
        {
            Assert.Equal(["x", "n"], tensors.Keys);
            Assert.Equal([1L, 2], tensors["x"].shape);
            Assert.Equal([1.5f, -2f], tensors["x"].data<float>().ToArray());
            Assert.Empty(tensors["n"].shape);
            Assert.Equal(9L, tensors["n"].item<long>());
            Assert.Equal("pt", metadata["format"]);
        }
        finally
        {
            DisposeAll(tensors.Values);
        }
    }

    [Fact]
    public void Read_TensorsOutliveACallerDisposeScope()
    {
        using var dir = new TempDirectory();
        string path = dir.File("scope.safetensors");
        using (Tensor w = torch.ones(3))
            SafeTensorsFile.Write(path, [new("w", w)]);

        Dictionary<string, Tensor> tensors;
        using (torch.NewDisposeScope())
            tensors = SafeTensorsFile.Read(path).Tensors;

        Assert.Equal(3f, tensors["w"].sum().item<float>());
        DisposeAll(tensors.Values);
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", "not valid JSON")]
    [InlineData("[1, 2]", "expected an object")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", "'a'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "needs 12")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", "outside the data")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "non-negative integers")]
    [InlineData("{\"a\":{\"dtype\":\"U16\",\"shape\":[4],\"data_offsets\":[0,8]}}", "'U16' is not supported")]
    [InlineData("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", "'dtype'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", "[begin, end]")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "more than once")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", "overlap")]
    [InlineData("{\"__metadata__\":{\"k\":1}}", "metadata 'k'")]
    public void Read_MalformedHeader(string header, string expectedProblem)
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, HandBuilt(header, TorchZip.Floats(1, 2)));

        var error = Assert.Throws<CheckpointException>(() => SafeTensorsFile.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains(expectedProblem, error.Message);
    }

    [Fact]
    public void Read_OffsetsPastTheEndOfTheFile_NameTheKey()
    {
        using var dir = new TempDirectory();
        string path = dir.File("short.safetensors");
        File.WriteAllBytes(path, HandBuilt(
            "{\"ok\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"blocks.1.w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[4,20]}}",
            TorchZip.Floats(1, 2)));

        var error = Assert.Throws<CheckpointException>(() => SafeTensorsFile.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("'blocks.1.w'", error.Message);
        Assert.Contains("[4, 20]", error.Message);
        Assert.Contains("8 bytes", error.Message);
    }

    [Fact]
    public void Read_HeaderLengthBeyondTheFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("huge-header.safetensors");
        byte[] file = HandBuilt("{}", []);
        BinaryPrimitives.WriteUInt64LittleEndian(file, 1_000_000);
        File.WriteAllBytes(path, file);

        var error = Assert.Throws<CheckpointException>(() => SafeTensorsFile.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("header length 1000000", error.Message);
    }

    [Fact]
    public void Read_TruncatedWrittenFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("cut.safetensors");
        using (Tensor w = torch.ones(100))
            SafeTensorsFile.Write(path, [new("w", w)]);
        byte[] full = File.ReadAllBytes(path);
        File.WriteAllBytes(path, full[..^10]);

        var error = Assert.Throws<CheckpointException>(() => SafeTensorsFile.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("'w'", error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void Read_TooShortFile(int length)
    {
        using var dir = new TempDirectory();
        string path = dir.File("tiny.safetensors");
        File.WriteAllBytes(path, new byte[length]);

        var error = Assert.Throws<CheckpointException>(() => SafeTensorsFile.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("too short", error.Message);
    }

    [Fact]
    public void Read_MissingFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("none.safetensors");

        var error = Assert.Throws<CheckpointException>(() => SafeTensorsFile.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("not found", error.Message);
    }

    [Fact]
    public void Write_RejectsDuplicateAndReservedNamesAndUnsupportedDtypes()
    {
        using var dir = new TempDirectory();
        string path = dir.File("rejected.safetensors");
        using Tensor t = torch.ones(2);
        using Tensor complex = torch.ones(2, dtype: ScalarType.ComplexFloat32);

        Assert.Contains("'a'", Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path, [new("a", t), new("a", t)])).Message);
        Assert.Contains("__metadata__", Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path, [new("__metadata__", t)])).Message);
        Assert.Contains("'c'", Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path, [new("c", complex)])).Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Write_FailureKeepsThePreviousFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("keep.safetensors");
        using (Tensor original = torch.full(4, 7f))
            SafeTensorsFile.Write(path, [new("w", original)]);
        byte[] before = File.ReadAllBytes(path);

        Tensor disposed = torch.ones(2);
        disposed.Dispose();
        using Tensor fine = torch.zeros(3);
        Assert.ThrowsAny<Exception>(() => SafeTensorsFile.Write(path, [new("fine", fine), new("broken", disposed)]));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }
}
