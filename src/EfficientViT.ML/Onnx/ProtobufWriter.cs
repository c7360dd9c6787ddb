using System.Buffers.Binary;
using System.Text;

namespace EfficientViT.ML.Onnx;

/// <summary>
/// A minimal writer of the protocol buffers wire format: just what serializing an ONNX model needs
/// (varints, 32-bit floats, length-delimited strings, bytes and nested messages, packed repeated scalars).
/// </summary>
/// <remarks>
/// Fields are written in the order the methods are called. Nested messages are written into the same buffer:
/// a one-byte length is reserved first and the content is moved right afterwards when its length needs a longer
/// varint, so a large tensor is never copied through a chain of intermediate buffers, one per nesting level.
/// </remarks>
internal sealed class ProtobufWriter
{
    // Protobuf's own limit is 2 GiB (lengths are 32-bit signed); .NET arrays stop a little short of that.
    private static readonly int MaxMessageBytes = Array.MaxLength;

    private const int WireVarint = 0;
    private const int WireLengthDelimited = 2;
    private const int WireFixed32 = 5;

    private byte[] buffer;
    private int length;

    /// <summary>Creates an empty writer.</summary>
    /// <param name="initialCapacity">The initial buffer size in bytes; it grows as needed.</param>
    public ProtobufWriter(int initialCapacity = 256)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(initialCapacity);
        buffer = new byte[Math.Max(16, initialCapacity)];
    }

    /// <summary>The number of bytes written so far.</summary>
    public int Length => length;

    /// <summary>Writes a varint field (int32, int64, uint64, bool or enum). Negative values take ten bytes, as protobuf specifies.</summary>
    public void WriteVarint(int field, long value)
    {
        WriteTag(field, WireVarint);
        WriteRawVarint(unchecked((ulong)value));
    }

    /// <summary>Writes a 32-bit float field (wire type fixed32, little-endian).</summary>
    public void WriteFloat(int field, float value)
    {
        WriteTag(field, WireFixed32);
        BinaryPrimitives.WriteSingleLittleEndian(Reserve(4), value);
    }

    /// <summary>Writes a string field as UTF-8 bytes.</summary>
    public void WriteString(int field, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        int byteCount = Encoding.UTF8.GetByteCount(value);
        WriteTag(field, WireLengthDelimited);
        WriteRawVarint((ulong)byteCount);
        Encoding.UTF8.GetBytes(value, Reserve(byteCount));
    }

    /// <summary>Writes a bytes field.</summary>
    public void WriteBytes(int field, ReadOnlySpan<byte> value)
    {
        WriteTag(field, WireLengthDelimited);
        WriteRawVarint((ulong)value.Length);
        value.CopyTo(Reserve(value.Length));
    }

    /// <summary>Copies fields already encoded (tags included), as a reader found them.</summary>
    public void WriteRaw(ReadOnlySpan<byte> encodedFields) => encodedFields.CopyTo(Reserve(encodedFields.Length));

    /// <summary>Writes a nested message field whose content <paramref name="writeContent"/> writes to this same writer.</summary>
    public void WriteMessage(int field, Action<ProtobufWriter> writeContent)
    {
        ArgumentNullException.ThrowIfNull(writeContent);
        WriteTag(field, WireLengthDelimited);

        // Most messages are shorter than 128 bytes, whose length fits one varint byte: reserve that, fix up after.
        int lengthPosition = length;
        Reserve(1);
        int contentStart = length;
        writeContent(this);
        int contentLength = length - contentStart;

        int lengthBytes = VarintSize((ulong)contentLength);
        if (lengthBytes > 1)
        {
            Reserve(lengthBytes - 1);
            // Array.Copy handles the overlap like memmove.
            Array.Copy(buffer, contentStart, buffer, contentStart + lengthBytes - 1, contentLength);
        }
        WriteVarintAt(lengthPosition, (ulong)contentLength);
    }

    /// <summary>Writes a packed repeated int64 field: one length-delimited record holding all the varints.</summary>
    public void WritePackedInt64(int field, ReadOnlySpan<long> values)
    {
        // An empty packed field is legal but pointless; leaving it out is what protobuf itself does.
        if (values.IsEmpty)
            return;
        int byteCount = 0;
        foreach (long value in values)
            byteCount += VarintSize(unchecked((ulong)value));
        WriteTag(field, WireLengthDelimited);
        WriteRawVarint((ulong)byteCount);
        foreach (long value in values)
            WriteRawVarint(unchecked((ulong)value));
    }

    /// <summary>Writes a packed repeated float field: one length-delimited record of little-endian floats.</summary>
    public void WritePackedFloat(int field, ReadOnlySpan<float> values)
    {
        if (values.IsEmpty)
            return;
        WriteTag(field, WireLengthDelimited);
        WriteRawVarint((ulong)values.Length * 4);
        Span<byte> target = Reserve(checked(values.Length * 4));
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(target[(i * 4)..], values[i]);
    }

    /// <summary>Writes a repeated int64 field unpacked, one tag per element (for fields onnx.proto does not declare packed).</summary>
    public void WriteRepeatedInt64(int field, ReadOnlySpan<long> values)
    {
        foreach (long value in values)
            WriteVarint(field, value);
    }

    /// <summary>Writes a repeated float field unpacked, one tag per element (for fields onnx.proto does not declare packed).</summary>
    public void WriteRepeatedFloat(int field, ReadOnlySpan<float> values)
    {
        foreach (float value in values)
            WriteFloat(field, value);
    }

    /// <summary>Returns a copy of the bytes written so far.</summary>
    public byte[] ToArray() => buffer.AsSpan(0, length).ToArray();

    private void WriteTag(int field, int wireType)
    {
        // Field numbers are 1..2^29-1; 19000-19999 are reserved by protobuf but legal on the wire.
        ArgumentOutOfRangeException.ThrowIfLessThan(field, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(field, (1 << 29) - 1);
        WriteRawVarint(((ulong)field << 3) | (uint)wireType);
    }

    private void WriteRawVarint(ulong value)
    {
        Span<byte> target = Reserve(VarintSize(value));
        EncodeVarint(target, value);
    }

    private void WriteVarintAt(int position, ulong value) =>
        EncodeVarint(buffer.AsSpan(position, VarintSize(value)), value);

    private static void EncodeVarint(Span<byte> target, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            target[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        target[i] = (byte)value;
    }

    /// <summary>The number of bytes the varint encoding of <paramref name="value"/> takes (1 to 10).</summary>
    internal static int VarintSize(ulong value)
    {
        int size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }
        return size;
    }

    // Grows the buffer if needed and returns the next `count` bytes, counted as written.
    private Span<byte> Reserve(int count)
    {
        long needed = (long)length + count;
        if (needed > MaxMessageBytes)
            throw new InvalidOperationException(
                $"The message would exceed protobuf's 2 GiB limit ({needed} bytes); ONNX models this large need external data, which this writer does not support.");
        if (needed > buffer.Length)
        {
            long grown = Math.Max(needed, Math.Min((long)buffer.Length * 2, Array.MaxLength));
            Array.Resize(ref buffer, (int)grown);
        }
        Span<byte> span = buffer.AsSpan(length, count);
        length += count;
        return span;
    }
}
