using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace EfficientViT.ML.Tests.Checkpoints;

/// <summary>Writes a zip laid out like torch.save: &lt;prefix&gt;/data.pkl, &lt;prefix&gt;/version, &lt;prefix&gt;/data/&lt;key&gt;.</summary>
internal static class TorchZip
{
    public static void Write(string path, byte[] pickle, IReadOnlyDictionary<string, byte[]>? storages = null, string prefix = "archive")
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        Add(zip, prefix + "/data.pkl", pickle);
        Add(zip, prefix + "/version", Encoding.ASCII.GetBytes("3\n"));
        foreach ((string key, byte[] bytes) in storages ?? new Dictionary<string, byte[]>())
            Add(zip, $"{prefix}/data/{key}", bytes);
    }

    private static void Add(ZipArchive zip, string name, byte[] bytes)
    {
        using Stream stream = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        stream.Write(bytes);
    }

    public static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    public static byte[] Longs(params long[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
        return bytes;
    }
}

/// <summary>Emits pickle opcodes by hand, the way torch.save (protocol 2) lays out a state dict.</summary>
internal sealed class PickleBuilder
{
    private readonly MemoryStream opcodes = new();

    public PickleBuilder Op(byte opcode)
    {
        opcodes.WriteByte(opcode);
        return this;
    }

    public PickleBuilder Proto(byte version = 2) => Op(0x80).Op(version);

    public PickleBuilder Mark() => Op((byte)'(');

    public PickleBuilder Tuple() => Op((byte)'t');

    public PickleBuilder EmptyTuple() => Op((byte)')');

    public PickleBuilder EmptyDict() => Op((byte)'}');

    public PickleBuilder SetItem() => Op((byte)'s');

    public PickleBuilder SetItems() => Op((byte)'u');

    public PickleBuilder Reduce() => Op((byte)'R');

    public PickleBuilder Stop() => Op((byte)'.');

    public PickleBuilder Bool(bool value) => Op(value ? (byte)0x88 : (byte)0x89);

    public PickleBuilder None() => Op((byte)'N');

    public PickleBuilder Global(string module, string name)
    {
        Op((byte)'c');
        opcodes.Write(Encoding.ASCII.GetBytes(module + "\n" + name + "\n"));
        return this;
    }

    public PickleBuilder StackGlobal(string module, string name) => ShortUnicode(module).ShortUnicode(name).Op(0x93);

    public PickleBuilder Unicode(string value)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(value);
        Op((byte)'X');
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)utf8.Length);
        opcodes.Write(length);
        opcodes.Write(utf8);
        return this;
    }

    public PickleBuilder ShortUnicode(string value)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(value);
        Op(0x8c).Op((byte)utf8.Length);
        opcodes.Write(utf8);
        return this;
    }

    public PickleBuilder Int(long value)
    {
        if (value is >= 0 and < 256)
            return Op((byte)'K').Op((byte)value);
        if (value is >= int.MinValue and <= int.MaxValue)
        {
            Op((byte)'J');
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, (int)value);
            opcodes.Write(bytes);
            return this;
        }
        Op(0x8a).Op(8);
        Span<byte> longBytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(longBytes, value);
        opcodes.Write(longBytes);
        return this;
    }

    /// <summary>BINFLOAT: a Python float, the format's one big-endian number.</summary>
    public PickleBuilder Float(double value)
    {
        Op((byte)'G');
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(bytes, value);
        opcodes.Write(bytes);
        return this;
    }

    public PickleBuilder IntTuple(params long[] values)
    {
        Mark();
        foreach (long value in values)
            Int(value);
        return Tuple();
    }

    /// <summary>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict()).</summary>
    public PickleBuilder Tensor(string storageType, string key, long numel, long offset, long[] size, long[] stride, bool requiresGrad = false)
    {
        Global("torch._utils", "_rebuild_tensor_v2");
        Mark();
        Mark().Unicode("storage").Global("torch", storageType).Unicode(key).Unicode("cpu").Int(numel).Tuple().Op((byte)'Q');
        Int(offset).IntTuple(size).IntTuple(stride).Bool(requiresGrad);
        Global("collections", "OrderedDict").EmptyTuple().Reduce();
        return Tuple().Reduce();
    }

    public byte[] ToArray() => opcodes.ToArray();
}
